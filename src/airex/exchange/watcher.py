"""``airex serve``: the drop-folder watcher and the outbox relay, in one loop.

Each party with a folder leaves messages in ``<folder>/drop/``: message files (``*.xml``),
batch folders (taken only once their ``BatchComplete_<BatchId>.xml`` is there, the file a
sender writes last) and batch zips (``*.zip``). A file is taken only when it is complete:
names starting with ``.`` or ending in ``.tmp``, ``.part``, ``.partial`` or ``.crdownload``
are skipped (files being written), and a file (or batch folder) is taken only after its size
and modification time stayed the same for ``settle_time`` seconds.

Taking is crash-safe: the file is first renamed into ``drop/.taking/<token>__<name>`` (so
no other watcher takes it too), then received (its bytes stored, its row committed with the
token), then deleted. What a watcher left in ``.taking/`` (it died, or the database was
away) is finished by any watcher once it has been there ``recover_after`` seconds (30 by
default: long enough that it is not another watcher's file in the middle of being taken): a
token already recorded means the file was received (it is only deleted), else it is
received now. Polling, not inotify: it works the same on network file systems.

Everything goes to the ``airex.exchange.watcher`` logger at INFO: what ``serve`` starts on (the
exchange's folder, database and broker, passwords masked), each drop folder when it is first
watched, and one line for each file or batch taken (the party, its path, the received ids).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from airex.errors import MessageError, MessageStatus
from airex.exchange._drop import EntryRefused, look, reject, shown_name, store_regular
from airex.exchange.models import PartyRecord
from airex.exchange.pipeline import Exchange

__all__ = ["DropWatcher", "serve"]

log = logging.getLogger(__name__)

_SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")
_TAKING = ".taking"
_EXPIRY_INTERVAL = 60.0  # seconds between two looks for split reports waiting too long


@dataclass
class _Seen:
    signature: tuple[int, int, int]
    since: float


@dataclass
class DropWatcher:
    """Takes complete files from every party's ``drop/`` folder into the exchange."""

    exchange: Exchange
    recover_after: float = 30.0
    _seen: dict[Path, _Seen] = field(default_factory=dict)
    _incomplete: dict[Path, tuple[int, int, int]] = field(default_factory=dict)
    _watched: dict[str, str] = field(default_factory=dict)
    _refused: dict[Path, str] = field(default_factory=dict)

    def scan_once(self) -> int:
        """Look at every drop folder once; take what is complete. Returns how many files
        (messages or batches) were taken."""
        taken = 0
        for party in self.exchange.directory.all():
            if party.folder:
                try:
                    taken += self._scan_party(party)
                except Exception:  # one party's folder never stops the others'
                    log.exception("%s: scanning the drop folder failed", party.party_id)
        return taken

    def _scan_party(self, party: PartyRecord) -> int:
        assert party.folder is not None
        drop = Path(party.folder) / "drop"
        taking = drop / _TAKING
        if self._watched.get(party.party_id) != str(drop):
            self._watched[party.party_id] = str(drop)
            log.info("watching %s's drop folder %s", party.party_id, drop)
        self._recover(party, taking)
        try:
            names = sorted(os.listdir(drop))
        except FileNotFoundError:
            return 0
        now = time.monotonic()
        ready: list[Path] = []
        for name in names:
            if name.startswith(".") or name.lower().endswith(_SKIPPED_SUFFIXES):
                continue
            path = drop / name
            try:
                signature = look(path)
            except FileNotFoundError:
                self._seen.pop(path, None)
                continue
            except EntryRefused as refused:
                self._refuse(party, drop, path, refused.error)
                continue
            except OSError as exc:
                self._refuse(party, drop, path, _unreadable(exc))
                continue
            if stat.S_ISDIR(os.lstat(path).st_mode) and not _has_manifest(path):
                continue  # a batch folder still being written: its manifest comes last
            if self._incomplete.get(path) == signature:
                continue  # a zip without its manifest, unchanged since it was looked at
            seen = self._seen.get(path)
            if seen is None or seen.signature != signature:
                self._seen[path] = _Seen(signature, now)
                if self.exchange.settings.settle_time > 0:
                    continue
            elif now - seen.since < self.exchange.settings.settle_time:
                continue
            ready.append(path)
        if not ready:
            return 0
        taking.mkdir(exist_ok=True)
        claimed: list[tuple[str, Path]] = []
        for path in ready:
            self._seen.pop(path, None)
            token = secrets.token_hex(8)
            target = taking / f"{token}__{path.name}"
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # another watcher took it
            claimed.append((token, target))
        return self._receive(party, claimed)

    def _receive(self, party: PartyRecord, claimed: list[tuple[str, Path]]) -> int:
        from airex.exchange.pipeline import Incoming

        drop = Path(party.folder or ".") / "drop"
        checked: list[tuple[str, Path]] = []
        for token, path in claimed:  # looked at again: it may have changed since
            try:
                look(path)
            except FileNotFoundError:
                continue
            except EntryRefused as refused:
                self._refuse(party, drop, path, refused.error)
                continue
            checked.append((token, path))
        claimed = checked
        singles: list[tuple[str, Path]] = []
        items: list[Incoming] = []
        batches: list[tuple[str, Path]] = []
        for token, path in claimed:
            if stat.S_ISDIR(os.lstat(path).st_mode) or path.suffix.lower() == ".zip":
                batches.append((token, path))
                continue
            try:
                stored = store_regular(
                    path, self.exchange.store, self.exchange.settings.max_message_bytes
                )
            except EntryRefused as refused:
                self._refuse(party, drop, path, refused.error)
                continue
            singles.append((token, path))
            name = path.name.split("__", 1)[1]
            items.append(Incoming(b"", name, party.party_id, "drop", token, stored=stored))
        if singles:
            ids = self.exchange.receive(items)
            for index, (_, path) in enumerate(singles):
                received = f"#{ids[index]}" if len(ids) == len(singles) else "received before"
                log.info("%s: took %s: %s", party.party_id, _dropped(path), received)
                path.unlink(missing_ok=True)
        taken = len(singles)
        for token, path in batches:
            intake = self.exchange.receive_path(
                path, arrival_party=party.party_id, source="drop", intake_token=token
            )
            if not intake.complete:
                # a zip without its BatchComplete file: never processed; given back, under
                # its own name, and left alone until it changes
                back = path.parent.parent / path.name.split("__", 1)[1]
                log.warning(
                    "%s: %s has no BatchComplete file: not taken, left until it changes",
                    party.party_id,
                    back,
                )
                try:  # never over a fresh upload of the same name made meanwhile
                    os.link(path, back)
                except FileExistsError:
                    self._refuse(party, drop, path, _superseded())
                    continue
                os.unlink(path)
                with contextlib.suppress(OSError, EntryRefused):  # else refused at next scan
                    self._incomplete[back] = look(back)
                continue
            log.info(
                "%s: took %s %s: %s",
                party.party_id,
                "batch" if intake.batch_id else "file",
                _dropped(path) + (f" (BatchId {intake.batch_id})" if intake.batch_id else ""),
                ", ".join(f"#{i}" for i in intake.received_ids) or "received before",
            )
            _remove(path)
            taken += 1
        return taken

    def _refuse(self, party: PartyRecord, drop: Path, path: Path, error: MessageError) -> None:
        """Move ``path`` into ``drop/.rejected/`` and acknowledge the refusal to the party;
        never raises (what cannot be moved is logged once and left alone)."""
        shown = shown_name(
            path.name.split("__", 1)[-1] if path.parent.name == _TAKING else path.name
        )
        if self._refused.get(path) is not None:
            return
        try:
            moved = reject(drop, path, error, shown)
        except OSError as exc:
            self._refused[path] = error.code
            log.error(
                "%s: %s cannot be taken (%s) nor moved aside: %s",
                party.party_id,
                shown,
                error.code,
                exc,
            )
            return
        log.warning(
            "%s: refused %s: %s: %s (moved to %s)",
            party.party_id,
            shown,
            error.code,
            error.message,
            moved,
        )
        try:
            self.exchange.refuse_entry(party.party_id, shown, error)
        except Exception:  # the file is aside already; the acknowledgement is what is lost
            log.exception("%s: acknowledging the refusal of %s failed", party.party_id, shown)

    def _recover(self, party: PartyRecord, taking: Path) -> None:
        """Finish what a watcher that died left in ``.taking/``."""
        try:
            names = sorted(os.listdir(taking))
        except FileNotFoundError:
            return
        now = time.time()
        entries = [
            (n.split("__", 1)[0], taking / n)
            for n in names
            if "__" in n and _age(taking / n, now) >= self.recover_after
        ]
        if not entries:
            return
        done = self.exchange.taken([token for token, _ in entries])
        pending: list[tuple[str, Path]] = []
        for token, path in entries:
            if token in done:
                _remove(path)
                continue
            try:
                look(path)
            except FileNotFoundError:
                continue
            except (EntryRefused, OSError) as exc:
                error = exc.error if isinstance(exc, EntryRefused) else _unreadable(exc)
                self._refuse(party, taking.parent, path, error)
                continue
            pending.append((token, path))
        if pending:
            log.info("%s: taking %d file(s) a stopped watcher left", party.party_id, len(pending))
            self._receive(party, pending)  # counted when it was first seen


def _superseded() -> MessageError:
    return MessageError(
        "ArchiveUnreadable",
        "a zip without its BatchComplete file, superseded by a newer upload of the same name "
        "while it was looked at: the newer one is kept, this one set aside",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def _unreadable(exc: OSError) -> MessageError:
    return MessageError(
        "FileUnreadable",
        f"cannot be read: {(exc.strerror or type(exc).__name__).lower()}",
        status=MessageStatus.INTERNAL_ERROR,
    )


def _dropped(path: Path) -> str:
    """Where a file taken into ``drop/.taking/<token>__<name>`` was dropped: ``drop/<name>``."""
    return str(path.parent.parent / path.name.split("__", 1)[-1])


def _masked_url(url: str) -> str:
    """``url`` with the password of its user part, if any, shown as ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<malformed URL>"
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def _starting(exchange: Exchange, *, watch: bool, relay: bool) -> None:
    settings = exchange.settings
    broker = (
        f"the embedded broker in {settings.broker_dir}"
        if settings.embedded_broker
        else _masked_url(settings.broker_url)
    )
    jobs = " and ".join(
        job for job, on in (("watching drop folders", watch), ("relaying", relay)) if on
    )
    log.info(
        "airex serve: %s for the exchange in %s; database %s; broker %s",
        jobs or "nothing to do",
        settings.home,
        settings.database.display_url(),
        broker,
    )


def _age(path: Path, now: float) -> float:
    """Seconds since ``path`` was renamed into ``.taking/`` (its status-change time)."""
    try:
        return now - path.stat().st_ctime
    except FileNotFoundError:
        return 0.0


def _has_manifest(folder: Path) -> bool:
    try:
        return any(name.startswith("BatchComplete_") for name in os.listdir(folder))
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def serve(
    exchange: Exchange,
    *,
    stop: threading.Event | None = None,
    once: bool = False,
    watch: bool = True,
    relay: bool = True,
) -> None:
    """Run the drop-folder watcher and the outbox relay until ``stop`` is set (or SIGTERM /
    SIGINT when running in the main thread); ``once`` does one round of each."""
    stop = stop or threading.Event()
    watcher = DropWatcher(exchange)
    settings = exchange.settings
    _starting(exchange, watch=watch, relay=relay)
    if threading.current_thread() is threading.main_thread() and not once:

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    next_watch = next_relay = next_expiry = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if watch and now >= next_watch:
            try:
                watcher.scan_once()
            except Exception:  # keep watching; the error is logged
                log.exception("drop-folder scan failed")
            next_watch = now + settings.watch_interval
        if relay and now >= next_relay:
            try:
                report = exchange.relay_once()
                busy = len(report) >= settings.relay_batch
            except Exception:  # keep relaying; the error is logged
                log.exception("outbox relay failed")
                busy = False
            next_relay = now if busy else now + settings.relay_interval
        if relay and now >= next_expiry:
            try:
                expired = exchange.expire_parts()
                if expired:
                    log.warning(
                        "refused %d part(s) of split reports whose set did not complete in "
                        "%g s: %s",
                        len(expired),
                        settings.parts_timeout,
                        ", ".join(f"#{i}" for i in expired),
                    )
            except Exception:  # keep serving; the error is logged
                log.exception("expiring waiting parts failed")
            next_expiry = now + _EXPIRY_INTERVAL
        if once:
            return
        stop.wait(max(0.0, min(next_watch, next_relay) - time.monotonic()))
