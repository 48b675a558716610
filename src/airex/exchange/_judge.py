"""Judging and acting: the verdict on a message (validation, parties, entitlements), its
duplicate, the CMO's actions on it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from airex.errors import MessageError, MessageStatus
from airex.exchange import outbox as ob
from airex.exchange._acknowledge import _Acknowledging
from airex.exchange._flat import (
    PARTS_SOURCE,
    delivered_files,
    flat_head_of,
    flat_header,
    flat_view,
    inspect_flat,
)
from airex.exchange._rows import _earlier_copy, _inspect_quietly, _preset, _reading
from airex.exchange._work import _PARTY_CACHE_SECONDS
from airex.exchange.directory import PartyDirectory
from airex.exchange.errors import ExchangeError
from airex.exchange.hooks import Accepted, ActionResult
from airex.exchange.models import PartyRecord, ReceivedMessage
from airex.exchange.verdict import (
    Header,
    Inspection,
    Verdict,
    inspect,
    inspect_stored,
    judge,
    stored_header,
    streamed_family,
)
from airex.xml import ParseLimits


class _Judging(_Acknowledging):
    """The verdict, deduplication, the hook."""

    def _lookup_parties(self, party_ids: set[str]) -> dict[str, PartyRecord]:
        now = time.monotonic()
        found: dict[str, PartyRecord] = {}
        missing: list[str] = []
        for party_id in party_ids:
            cached = self._parties.get(party_id)
            if cached is not None and now - cached[0] < _PARTY_CACHE_SECONDS:
                found[party_id] = cached[1]
            else:
                missing.append(party_id)
        if missing:
            with _reading(self.engine) as connection:
                fresh = PartyDirectory.lookup(connection, missing)
            for party_id, record in fresh.items():
                self._parties[party_id] = (now, record)
            found.update(fresh)
        return found

    def _read(
        self, row: ReceivedMessage, *, whole: bool = False
    ) -> tuple[bytes | None, Inspection | None]:
        """The stored message, read once. A usage report (XML or flat) is read as a stream
        from its file, never held (``(None, inspection)``): its header alone (a deferred
        inspection, completed by :meth:`_complete`), or with ``whole`` validated through.
        Any other message is read whole (``(raw, None)``: :func:`inspect` judges it)."""
        if _preset(row) is None:
            flat = self._read_flat(row, whole)
            if flat is not None:
                return None, flat
            if streamed_family(self.store.path(row.sha256)) is not None:
                stored = self.store.path(row.sha256) if whole else self.store.verify(row.sha256)
                inspection = None if whole else stored_header(stored)
                inspection = inspection or inspect_stored(stored, _shown(row.file_name))
                if inspection is not None:
                    return None, inspection
            if row.size > _PARSE_LIMITS.max_bytes:  # never read into memory to be refused
                return None, Inspection([_too_large(row.size)], Header(), None)
        return self.store.get(row.sha256), None

    def _read_flat(self, row: ReceivedMessage, whole: bool) -> Inspection | None:
        """A flat-file usage report (one file, plain or gzip, or a split report's part set)
        read as a stream through its named view; ``None`` for any other message."""
        parts = row.source == PARTS_SOURCE
        if not parts and flat_head_of(self.store.path(row.sha256)) is None:
            return None
        if not whole:
            self.store.verify(row.sha256)
        paths = flat_view(self.store, row.sha256, row.file_name, parts=parts)
        if paths is None:
            return None
        return (None if whole else flat_header(paths)) or inspect_flat(paths)

    def _complete(self, row: ReceivedMessage) -> Verdict:
        """The verdict on a usage report whose records were not validated yet: validated
        through now (in constant memory), then judged."""
        _, inspection = self._read(row, whole=True)
        assert inspection is not None
        return self._verdict(None, row, inspection)

    def _validated_by_actions(self, verdict: Verdict, row: ReceivedMessage) -> bool:
        """True when the CMO's actions will read ``verdict``'s report through with validation
        (one pass, not two): the exchange then does not validate its records first."""
        families: frozenset[str] = getattr(self.actions, "validates_streamed", frozenset())
        return (
            verdict.accepted
            and verdict.header.message_type in families
            and self._should_act(verdict, row)
        )

    def _route(self, row: ReceivedMessage, verdict: Verdict) -> list[ob.Owed]:
        """What delivering an accepted message owes; a flat report's files are delivered
        each under its own name (``.tsv``, ``.tsv.gz``, ``_<n>of<N>``), never its part set."""
        if verdict.path is None:
            return super()._route(row, verdict)
        header = verdict.header
        files = delivered_files(verdict.path, header.sender, header.message_id)
        return self._route_files(verdict, row.id, files)

    def _verdict(
        self, raw: bytes | None, row: ReceivedMessage, inspection: Inspection | None = None
    ) -> Verdict:
        preset = _preset(row)
        if inspection is None:
            assert raw is not None
            inspection = inspect(raw) if preset is None else _inspect_quietly(raw)
        parties = self._lookup_parties(inspection.party_ids) if preset is None else {}
        how = {
            "drop": "from its drop folder",
            "send": "with airex send --as",
            "batch": "in its batch",
        }.get(row.source, row.source)
        return judge(
            inspection, parties, arrival_party=row.arrival_party, arrived_how=how, preset=preset
        )

    def _should_act(self, verdict: Verdict, row: ReceivedMessage) -> bool:
        cmo = self.settings.cmo_party_id
        if cmo is None or verdict.header.test:
            return False
        if cmo in verdict.recipients:
            return True
        own: frozenset[str] = getattr(self.actions, "records_sent", frozenset())
        return verdict.header.sender == cmo and verdict.header.message_type in own

    def _act(
        self, verdict: Verdict, row: ReceivedMessage, raw: bytes | None
    ) -> tuple[Verdict, ActionResult | None, int | None]:
        """Act on an accepted message addressed to the CMO; return the verdict (completed,
        when it was reached on a report's header alone), the actions' result and the message
        this one duplicates."""
        if verdict.deferred and not self._validated_by_actions(verdict, row):
            verdict = self._complete(row)
        if not verdict.accepted or not self._should_act(verdict, row):
            return verdict, None, None
        duplicate_of = self._duplicate_of(verdict)
        if duplicate_of is not None:
            if verdict.deferred:  # an invalid copy is refused as invalid, not as a duplicate
                verdict = self._complete(row)
            return verdict, None, duplicate_of if verdict.accepted else None
        stored = verdict.path or self.store.path(row.sha256)
        accepted = Accepted(verdict.header, stored, verdict=verdict)
        view = replace(
            row,
            sender=verdict.header.sender,
            message_id=verdict.header.message_id,
            message_type=verdict.header.message_type,
        )
        result = self.actions.act(accepted, raw, view, self.engine)
        if not isinstance(result, ActionResult):
            raise ExchangeError(
                f"the CMO's actions returned {type(result).__name__}, not an ActionResult, "
                f"for {verdict.header.message_type} {verdict.header.message_id}"
            )
        cmo = self.settings.cmo_party_id
        own = verdict.header.sender == cmo and cmo not in verdict.recipients
        refused = result.status not in (None, MessageStatus.MESSAGE_ACCEPTED)
        if own and refused:  # the CMO's own message its actions refused: never routed
            assert result.status is not None
            verdict.status, verdict.errors = result.status, list(result.errors)
            return verdict, None, None
        if not verdict.deferred or result.validated:
            verdict.deferred = False
            return verdict, result, None
        completed = self._complete(row)  # the actions did not read it through, or refused it
        if not completed.accepted:
            return completed, None, None
        if result.validated is False:  # the actions' reading found what the stream did not
            completed.status = result.status or MessageStatus.SCHEMA_INVALID
            completed.errors = list(result.errors)
            return completed, None, None
        return completed, result, None

    def _duplicate_of(self, verdict: Verdict) -> int | None:
        with _reading(self.engine) as connection:
            return _earlier_copy(connection, verdict, self.settings.cmo_party_id)


def _shown(file_name: str | None) -> str | None:
    """The name a stored file's errors cite: the last part of the name it was handed in as."""
    return Path(file_name).name if file_name else None


_PARSE_LIMITS = ParseLimits()


def _too_large(size: int) -> MessageError:
    return MessageError(
        "SizeLimitExceeded",
        f"document is too large: {size} bytes, the limit is {_PARSE_LIMITS.max_bytes} bytes "
        "(only usage reports may be larger: they are read as a stream)",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )
