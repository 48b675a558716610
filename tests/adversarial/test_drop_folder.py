"""Availability: what one party leaves in its drop folder never stops intake for the others.

The review's reproductions (issue 13, items 1-3): a FIFO named like a message, a UNIX socket,
a file name that is not UTF-8, a batch folder nested 1 200 deep, symbolic links to a host
file, to another party's inbox and to a batch folder outside the drop folder. Each is moved
to ``drop/.rejected/`` with a reason file and acknowledged to the party; the scan never
blocks, never fails, and takes the well-behaved files of every party in the same round.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from actions_support import run_pending
from exchange_support import CMO, DEV, RH1, Env, codes, licence_request, payment, remove_deep

from airex.batch import pack
from airex.exchange import DropWatcher, Exchange


@pytest.fixture
def env(embedded: Env) -> Env:
    """The embedded exchange, taking a file as soon as it is seen."""
    embedded.settings = embedded.settings.with_(settle_time=0)
    return embedded


def _scan(exchange: Exchange) -> int:
    """One scan, in a thread: it must end within 20 s (a FIFO must never block it)."""
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(DropWatcher(exchange).scan_once()))
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the drop-folder scan blocked"
    assert result, "the scan raised"
    return result[0]


def _refusals(env: Env, party: str) -> dict[str, list[str]]:
    """The refused entries' names (as shown) → the error codes of their acknowledgements."""
    with env.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT r.file_name, a.data FROM exchange_received r JOIN exchange_ack a "
                "ON a.received_id = r.id WHERE r.arrival_party = :p AND r.size = 0"
            ),
            {"p": party},
        ).all()
    return {name: codes(bytes(data))[0] for name, data in rows}


def _rejected(env: Env, party: str) -> list[tuple[str, str]]:
    """(name, reason) of what is in ``party``'s ``drop/.rejected/``."""
    folder = env.drop(party) / ".rejected"
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".reason.txt"):
            continue
        reason = (folder / f"{path.name}.reason.txt").read_text(encoding="utf-8")
        found.append((path.name.split("__", 1)[1], reason.split(":", 1)[0]))
    return found


def _well_behaved(env: Env) -> None:
    """A message in the developer's folder and one in a rightsholder's."""
    (env.drop(DEV) / "zz-request.xml").write_bytes(licence_request())
    (env.drop(RH1) / "payment.xml").write_bytes(payment(RH1, CMO))


def _taken(env: Env) -> int:
    return int(env.scalar("SELECT count(*) FROM exchange_received WHERE size > 0"))


def test_a_fifo_named_like_a_message_never_blocks_intake(env: Env) -> None:
    """Item 1: a FIFO ``x.xml`` is refused (NotARegularFile) without ever being opened for
    reading; the scan ends and takes both parties' well-behaved messages."""
    os.mkfifo(env.drop(DEV) / "x.xml")
    _well_behaved(env)
    exchange = env.exchange()
    assert _scan(exchange) == 2
    run_pending(exchange)
    assert _taken(env) == 2
    assert _rejected(env, DEV) == [("x.xml", "NotARegularFile")]
    assert _refusals(env, DEV) == {"x.xml": ["NotARegularFile"]}
    assert not (env.drop(DEV) / "x.xml").exists()


def test_sockets_odd_names_and_deep_folders_cost_only_themselves(env: Env, tmp_path: Path) -> None:
    """Item 2: a UNIX socket, a name that is not UTF-8 and a batch folder nested 1 200 deep
    (which made the scan fail with RecursionError) are refused one by one; every other
    party is served in the same scan, and the next scan finds nothing left to refuse."""
    drop = env.drop(DEV)
    server = socket.socket(socket.AF_UNIX)
    short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))  # AF_UNIX paths are short
    try:
        server.bind(str(short / "s"))
        os.rename(short / "s", drop / "sock.xml")
    finally:
        short.rmdir()
    with open(os.fsencode(drop) + b"/bad-\xff\xfe.xml", "wb") as odd:
        odd.write(licence_request())
    deep = drop / "20260101000000000"
    deep.mkdir()
    (deep / "BatchComplete_20260101000000000.xml").write_bytes(b"<x/>")
    current = deep
    for _ in range(1200):
        current = current / "d"
        current.mkdir()
    _well_behaved(env)
    exchange = env.exchange()
    try:
        assert _scan(exchange) == 2
    finally:
        server.close()
    run_pending(exchange)
    assert _taken(env) == 2
    assert sorted(_rejected(env, DEV)) == [
        ("20260101000000000", "FolderTooDeep"),
        ("bad-%ff%fe.xml", "FileNameInvalid"),
        ("sock.xml", "NotARegularFile"),
    ]
    assert sorted(_refusals(env, DEV)) == ["20260101000000000", "bad-%ff%fe.xml", "sock.xml"]
    assert _scan(exchange) == 0
    assert len(_rejected(env, DEV)) == 3
    for path in (env.drop(DEV) / ".rejected").glob("*__20260101000000000"):
        remove_deep(path)  # pytest's own clean-up would recurse 1 200 deep


def test_links_are_never_followed(env: Env, tmp_path: Path) -> None:
    """Item 3: a link to a host file, a link to another party's inbox message and a link to
    a batch folder outside the drop folder are refused as links: nothing they point to is
    stored, re-submitted or processed, and the link itself is moved aside (its target is
    untouched)."""
    secret = tmp_path / "host-secret.xml"
    secret.write_bytes(b"<secret>host file</secret>")
    other = env.inbox(RH1) / "theirs.xml"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes(payment(CMO, RH1, message_id="THEIRS-1"))
    outside = pack([licence_request()], tmp_path / "batches", sender=DEV).path
    drop = env.drop(DEV)
    (drop / "secret.xml").symlink_to(secret)
    (drop / "theirs.xml").symlink_to(other)
    (drop / outside.name).symlink_to(outside, target_is_directory=True)
    _well_behaved(env)
    exchange = env.exchange()
    assert _scan(exchange) == 2
    run_pending(exchange)
    assert _taken(env) == 2
    assert sorted(_rejected(env, DEV)) == sorted(
        [
            ("secret.xml", "NotARegularFile"),
            ("theirs.xml", "NotARegularFile"),
            (outside.name, "NotARegularFile"),
        ]
    )
    stored = {p.read_bytes() for p in env.settings.store_dir.rglob("*") if p.is_file()}
    assert secret.read_bytes() not in stored
    assert other.read_bytes() not in stored
    assert env.scalar("SELECT count(*) FROM exchange_batch") == 0
    assert secret.exists()
    assert other.exists()
    assert outside.exists()


def test_a_link_inside_a_batch_folder_refuses_the_batch(env: Env, tmp_path: Path) -> None:
    """A batch folder holding a link (to a host file) is refused whole: nothing of it is
    taken, nothing the link points to is read."""
    secret = tmp_path / "host-secret.xml"
    secret.write_bytes(b"<secret>host file</secret>")
    packed = pack([licence_request()], tmp_path / "batches", sender=DEV)
    (packed.path / "extra.xml").symlink_to(secret)
    target = env.drop(DEV) / packed.path.name
    packed.path.rename(target)
    exchange = env.exchange()
    assert _scan(exchange) == 0
    run_pending(exchange)
    assert _rejected(env, DEV) == [(packed.path.name, "NotARegularFile")]
    assert env.scalar("SELECT count(*) FROM exchange_batch") == 0


def test_one_party_s_broken_folder_never_stops_the_others(env: Env) -> None:
    """A party whose drop folder cannot be scanned (here: it is a file) costs only itself."""
    drop = env.drop(DEV)
    for entry in drop.iterdir():
        entry.unlink()
    drop.rmdir()
    drop.write_bytes(b"not a folder")
    (env.drop(RH1) / "payment.xml").write_bytes(payment(RH1, CMO))
    assert _scan(env.exchange()) == 1


def test_a_file_over_the_byte_limit_is_refused_before_it_is_stored(env: Env) -> None:
    """Item 4: a file larger than AIREX_MAX_MESSAGE_BYTES is refused (SizeLimitExceeded)
    from its size alone, nothing of it stored; a sparse 3 GB file costs no read at all."""
    env.settings = env.settings.with_(max_message_bytes=4096)
    drop = env.drop(DEV)
    (drop / "big.xml").write_bytes(b"<x/>" * 2000)
    with open(drop / "sparse.xml", "wb") as sparse:
        sparse.truncate(3 * 1024**3)
    _well_behaved(env)
    exchange = env.exchange()
    assert _scan(exchange) == 2
    run_pending(exchange)
    assert sorted(_rejected(env, DEV)) == [
        ("big.xml", "SizeLimitExceeded"),
        ("sparse.xml", "SizeLimitExceeded"),
    ]
    stored = sorted(p.stat().st_size for p in env.settings.store_dir.rglob("*") if p.is_file())
    assert stored[-1] < 4096
    for path in (drop / ".rejected").glob("*sparse.xml"):
        path.unlink()


SERVE_ONCE = """
import os, resource, sys
from pathlib import Path
from airex.db import DatabaseConfig
from airex.exchange import DropWatcher, Exchange, ExchangeSettings, NoActions
settings = ExchangeSettings(
    database=DatabaseConfig(url=sys.argv[1]), home=Path(sys.argv[2]), settle_time=0
)
exchange = Exchange(settings, actions=NoActions())
print(DropWatcher(exchange).scan_once(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_a_large_file_is_streamed_into_the_store_never_held(env: Env) -> None:
    """Item 4: a 400 MB file under the limit is streamed into the store: the process that
    takes it (``airex serve``'s watcher, alone in a process) stays under 200 MB."""
    path = env.drop(DEV) / "large.xml"
    with open(path, "wb") as large:
        chunk = b"<x/>" * (1 << 18)
        for _ in range(400):
            large.write(chunk)
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONCE, env.settings.database.url, str(env.settings.home)],
        capture_output=True,
        text=True,
        check=True,
    )
    taken, peak_kib = (int(v) for v in result.stdout.split())
    assert taken == 1
    assert peak_kib < 200 * 1024
    sizes = [p.stat().st_size for p in env.settings.store_dir.rglob("*") if p.is_file()]
    assert 400 * (1 << 20) in sizes
    for stored in env.settings.store_dir.rglob("*"):
        if stored.is_file() and stored.stat().st_size > 1 << 20:
            stored.unlink()


def test_a_stale_incomplete_zip_never_overwrites_a_fresh_upload(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip without its BatchComplete file is given back under its name; when the party
    uploaded a new zip of that name meanwhile, the new one is kept and the stale one set
    aside (it used to overwrite the fresh upload)."""
    import zipfile

    drop = env.drop(DEV)
    with zipfile.ZipFile(drop / "20260101000000000.zip", "w") as stale:
        member = zipfile.ZipInfo("request.xml")
        member.external_attr = 0o100644 << 16  # a regular file, as zip tools write it
        stale.writestr(member, licence_request())
    exchange = env.exchange()
    real = exchange.receive_path

    def racing(path: object, **kwargs: object) -> object:
        intake = real(path, **kwargs)  # type: ignore[arg-type]
        (drop / "20260101000000000.zip").write_bytes(b"the fresh upload")
        return intake

    monkeypatch.setattr(exchange, "receive_path", racing)
    assert _scan(exchange) == 0
    assert (drop / "20260101000000000.zip").read_bytes() == b"the fresh upload"
    assert [name for name, _ in _rejected(env, DEV)] == ["20260101000000000.zip"]


def test_a_zip_written_by_python_s_writestr_is_taken(env: Env, tmp_path: Path) -> None:
    """A batch zip whose members carry permission bits but no file type (what
    ``zipfile.writestr`` writes) is a batch of regular files, not refused as unsafe; a member
    that says it is a link still is."""
    import zipfile

    from airex.batch import verify

    packed = pack([licence_request()], tmp_path / "out", sender=DEV)
    plain = tmp_path / f"{packed.path.name}.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        for path in sorted(packed.path.iterdir()):
            archive.writestr(path.name, path.read_bytes())
    report = verify(plain)
    assert not report.refused
    assert [str(e.status) for e in report.entries] == ["MessageAccepted"]
    linked = tmp_path / "linked.zip"
    with zipfile.ZipFile(linked, "w") as archive:
        for path in sorted(packed.path.iterdir()):
            member = zipfile.ZipInfo(path.name)
            member.create_system = 3
            member.external_attr = 0o120777 << 16  # a symbolic link
            archive.writestr(member, path.read_bytes())
    assert verify(linked).refused
