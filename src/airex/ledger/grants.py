"""The grant register: every state of every licence, append-only, queryable on any date.

Each LicenceMessage (Granted, Suspended, Revoked, Expired) becomes one :class:`GrantRecord`,
recorded once (:meth:`GrantRegister.record` is idempotent by source message id) and never
changed. The register then answers the questions a CMO is asked::

    register = GrantRegister(engine)
    register.record(GrantRecord(
        licence_id="LIC-2026-0001", status="Granted",
        licensor="PADPIDA2026CMO01", licensee="PADPIDA2026DEV01",
        issued_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        term_start=date(2026, 1, 1), term_end=date(2026, 12, 31),
        use_types=["UseForTrainingGenerativeAI"], all_works=True,
        source_message_id="PADPIDA2026CMO01:AIREX-5f0c...", source_message=xml_bytes,
    ))
    register.state_on("LIC-2026-0001", date(2026, 3, 1))     # the state that held that day
    register.in_force(date(2026, 3, 1), licensee="PADPIDA2026DEV01",
                      work_id="ISWC::T-034.524.680-1", use_type="UseForTrainingGenerativeAI")
    register.history("LIC-2026-0001")                         # every state, in order

Semantics (each rule pinned by a test in ``tests/ledger/test_ledger_grants.py``):

* **a state takes effect at its issue instant** (``issued_at``) and holds until the next state
  of the same licence takes effect (ties: by issue time, then by arrival), so a late-delivered
  message lands in its place in time;
* **the term is inclusive at both ends**, whole UTC days: a licence with term 2026-01-01 ..
  2026-12-31 covers every instant of 2026-12-31. So an ``Expired`` state never cuts a term
  short: it takes effect at the *later* of its issue instant and the end of its term (00:00Z
  the day after ``term_end``); an Expired message issued 2026-12-31T23:00Z for that licence,
  or one issued in advance, takes effect 2027-01-01T00:00Z (an Expired state issued after the
  term end is consistent and takes effect when issued; with an open-ended term, when issued).
  To end a licence early, the licensor revokes it. The instant a state takes effect is stored
  with it (:attr:`GrantPublic.effective_at`);
* **a question about day D** is answered with the state in effect at the *end* of D (UTC): the
  state at the start of D, unless states took effect during D, and then the last of them. A
  licence Revoked at 09:00 on 2026-03-01 is not in force "on 2026-03-01", one Granted at 09:00
  on 2026-04-01 is in force "on 2026-04-01". A ``datetime`` asks about that very instant
  (in force at 2026-03-01T08:59Z, not at 09:00Z);
* a licence is **in force** on a day when its state then is ``Granted`` and the day lies within
  its term (``term_start`` ≤ day ≤ ``term_end``; an open end never ends), and its terms (the
  state's) cover the licensee, work, use type and territory asked about. Past the term end
  the state stays whatever was last declared (``state_on`` may say Granted), but the licence
  is not in force;
* **Revoked and Suspended are not final**: a later Granted state (a reinstatement) puts the
  licence back in force from its issue instant;
* a licence is between one licensor and one licensee: a state whose licensor or licensee
  differs from the licence's recorded states is refused (:class:`~airex.ledger.InvalidGrantError`),
  since otherwise it would silently hand the licence to another party.

The register takes plain data (strings, dates) and knows nothing of XML: the layer that reads
LicenceMessages converts them (work ids as ``str(WorkId)``, e.g. ``"ISRC::SEABC2600001"``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import backend_of, chunked, insert_for, read_transaction, run_write
from airex.ledger.errors import AlreadyGrantedError, IdempotencyConflictError, InvalidGrantError
from airex.ledger.models import (
    KEY_LENGTH,
    PARTY_LENGTH,
    GrantEvent,
    GrantPublic,
    GrantStatus,
    GrantUseType,
    GrantWork,
    table,
)
from airex.ledger.schema import require_current

__all__ = ["WORLDWIDE", "GrantRecord", "GrantRegister", "GrantResult", "effective_at"]

WORLDWIDE = "Worldwide"
"""The territory code for every country (less ``excluded_territories``)."""

_GRANT = table(GrantEvent)
_USE = table(GrantUseType)
_WORK = table(GrantWork)


def _text(value: object, what: str, max_length: int) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise InvalidGrantError(
            f"{what} must be a non-empty string without outer spaces: {value!r}"
        )
    if len(value) > max_length:
        raise InvalidGrantError(f"{what} is {len(value)} characters long (at most {max_length})")
    return value


def _texts(values: Iterable[str], what: str, max_length: int) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidGrantError(f"{what} must be a list of strings, not the string {values!r}")
    return tuple(sorted({_text(v, what, max_length) for v in values}))


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One licence state to record (the plain data of a LicenceMessage).

    ``work_ids`` lists the works the licence covers, or ``all_works=True`` says it covers every
    work the licensor represents (exactly one of the two). ``territories`` holds ISO 3166-1
    alpha-2 codes or ``"Worldwide"``; ``excluded_territories`` only go with ``"Worldwide"``.
    ``source_message_id`` identifies the message (e.g. sender + MessageId) and makes recording
    idempotent; without it, the SHA-256 of ``source_message`` (the raw bytes) is used.
    Lists are stored sorted and without duplicates.
    """

    licence_id: str
    status: GrantStatus | str
    licensor: str
    licensee: str
    issued_at: datetime
    term_start: date
    term_end: date | None = None
    use_types: Sequence[str] = ()
    work_ids: Sequence[str] = ()
    all_works: bool = False
    territories: Sequence[str] = (WORLDWIDE,)
    excluded_territories: Sequence[str] = ()
    status_reason: str | None = None
    source_message_id: str | None = None
    source_message: bytes | None = None
    content_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"licence {self.licence_id!r}"
        _text(self.licence_id, "licence id", PARTY_LENGTH)
        try:
            status = GrantStatus(self.status)
        except ValueError:
            allowed = ", ".join(GrantStatus)
            raise InvalidGrantError(
                f"{where}: status {self.status!r} is not one of {allowed}"
            ) from None
        _text(self.licensor, f"{where}: licensor", PARTY_LENGTH)
        _text(self.licensee, f"{where}: licensee", PARTY_LENGTH)
        if not isinstance(self.issued_at, datetime) or self.issued_at.utcoffset() is None:
            raise InvalidGrantError(
                f"{where}: issued_at must be a datetime with a time zone, not {self.issued_at!r}"
            )
        for name in ("term_start", "term_end"):
            value = getattr(self, name)
            if isinstance(value, datetime) or not (
                isinstance(value, date) or (value is None and name == "term_end")
            ):
                raise InvalidGrantError(f"{where}: {name} must be a date, not {value!r}")
        if self.term_end is not None and self.term_end < self.term_start:
            raise InvalidGrantError(
                f"{where}: term ends ({self.term_end}) before it starts ({self.term_start})"
            )
        use_types = _texts(self.use_types, f"{where}: use type", 64)
        if not use_types:
            raise InvalidGrantError(f"{where}: a licence permits at least one use type")
        work_ids = _texts(self.work_ids, f"{where}: work id", KEY_LENGTH)
        if not isinstance(self.all_works, bool) or self.all_works == bool(work_ids):
            raise InvalidGrantError(
                f"{where}: give either work_ids or all_works=True (exactly one of them)"
            )
        territories = _texts(self.territories, f"{where}: territory", 16)
        excluded = _texts(self.excluded_territories, f"{where}: excluded territory", 16)
        if not territories:
            raise InvalidGrantError(f"{where}: a licence covers at least one territory")
        if excluded and WORLDWIDE not in territories:
            raise InvalidGrantError(f"{where}: excluded territories only go with {WORLDWIDE}")
        if self.status_reason is not None and not isinstance(self.status_reason, str):
            raise InvalidGrantError(f"{where}: status_reason must be a string")
        if self.source_message is not None and not isinstance(self.source_message, bytes):
            raise InvalidGrantError(f"{where}: source_message must be the raw message bytes")
        source_id = self.source_message_id
        if source_id is None:
            if self.source_message is None:
                raise InvalidGrantError(
                    f"{where}: give source_message_id or source_message (the raw bytes)"
                )
            source_id = "sha256:" + hashlib.sha256(self.source_message).hexdigest()
        _text(source_id, f"{where}: source message id", KEY_LENGTH)
        for name, value in (
            ("status", status),
            ("use_types", use_types),
            ("work_ids", work_ids),
            ("territories", territories),
            ("excluded_territories", excluded),
            ("source_message_id", source_id),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "content_hash", _grant_hash(self, self.source_message))


def _grant_hash(grant: GrantRecord | GrantPublic, source_message: bytes | None) -> str:
    """SHA-256 of a grant's content (the record to store, or a stored grant's rows)."""
    canonical = json.dumps(
        [
            grant.licence_id,
            str(grant.status),
            grant.status_reason,
            grant.licensor,
            grant.licensee,
            grant.issued_at.astimezone(UTC).isoformat(),
            grant.term_start.isoformat(),
            grant.term_end.isoformat() if grant.term_end is not None else None,
            sorted(grant.use_types),
            grant.all_works,
            sorted(grant.work_ids),
            sorted(grant.territories),
            sorted(grant.excluded_territories),
            grant.source_message_id,
            hashlib.sha256(source_message).hexdigest() if source_message is not None else None,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class GrantResult:
    """What :meth:`GrantRegister.record` returns: the stored state, and whether this call
    recorded it (``False``: the same source message was recorded before)."""

    grant: GrantPublic
    created: bool


def effective_at(status: GrantStatus | str, issued_at: datetime, term_end: date | None) -> datetime:
    """When a state takes effect: its issue instant, except that an Expired state never takes
    effect before its (inclusive) term is over (see the module doc)."""
    if status == GrantStatus.EXPIRED and term_end is not None:
        term_over = datetime.combine(term_end + timedelta(days=1), time.min, UTC)
        return max(issued_at.astimezone(UTC), term_over)
    return issued_at.astimezone(UTC)


def _cutoff(on: date | datetime) -> tuple[sa.ColumnElement[bool], date]:
    """The condition "in effect by ``on``" and the day ``on`` falls on (in UTC)."""
    if isinstance(on, datetime):
        if on.utcoffset() is None:
            raise InvalidGrantError(f"the instant {on.isoformat()} has no time zone")
        return _GRANT.c.effective_at <= on, on.astimezone(UTC).date()
    if not isinstance(on, date):
        raise InvalidGrantError(f"expected a date or datetime, not {on!r}")
    next_day = datetime.combine(on + timedelta(days=1), time.min, UTC)
    return _GRANT.c.effective_at < next_day, on


class GrantRegister:
    """The append-only register of licence states on one database (see the module doc)."""

    def __init__(self, engine: Engine, *, check_schema: bool = True) -> None:
        if check_schema:
            require_current(engine)
        self.engine = engine

    def record(self, grant: GrantRecord, *, first: bool = False) -> GrantResult:
        """Record one licence state; recording the same source message again returns the first.

        Raises :class:`~airex.ledger.IdempotencyConflictError` when the source message id was
        recorded before with different content. With ``first``, the state must be the
        licence's first: :class:`~airex.ledger.AlreadyGrantedError` when another message
        recorded one before (checked under the licence's lock: of two requests racing for one
        licence, exactly one grants).
        """
        if not isinstance(grant, GrantRecord):
            raise TypeError(f"record takes a GrantRecord, not {type(grant).__name__}")
        grant_id, created = run_write(self.engine, lambda c: self._write(c, grant, first))
        return GrantResult(self._load(sa.select(_GRANT).where(_GRANT.c.id == grant_id))[0], created)

    @staticmethod
    def _write(connection: Connection, grant: GrantRecord, only_first: bool) -> tuple[int, bool]:
        source_id = grant.source_message_id
        assert source_id is not None  # filled in by GrantRecord
        if backend_of(connection.engine) == "postgresql":
            # One writer per licence at a time (SQLite's write lock already serialises), so
            # two first states with different parties cannot both pass the check below.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"airex-ledger-licence:{grant.licence_id}"},
            )
        first = connection.execute(
            sa.select(_GRANT.c.id, _GRANT.c.licensor, _GRANT.c.licensee, _GRANT.c.source_message_id)
            .where(_GRANT.c.licence_id == grant.licence_id)
            .order_by(_GRANT.c.issued_at, _GRANT.c.id)
            .limit(1)
        ).first()
        if only_first and first is not None and first.source_message_id != source_id:
            raise AlreadyGrantedError(
                f"licence {grant.licence_id!r} was granted before (message "
                f"{first.source_message_id!r})",
                licence_id=grant.licence_id,
                source_message_id=str(first.source_message_id),
            )
        if first is not None and (first.licensor, first.licensee) != (
            grant.licensor,
            grant.licensee,
        ):
            raise InvalidGrantError(
                f"licence {grant.licence_id!r} is from {first.licensor} to {first.licensee} "
                f"(grant {first.id}, message {first.source_message_id!r}); a state from "
                f"{grant.licensor} to {grant.licensee} (message {source_id!r}) cannot change "
                "its parties: a licence between other parties needs its own licence id"
            )
        statement = (
            insert_for(connection, _GRANT)
            .on_conflict_do_nothing(index_elements=["source_message_id"])
            .returning(_GRANT.c.id)
        )
        grant_id = connection.execute(
            statement,
            {
                "licence_id": grant.licence_id,
                "status": str(grant.status),
                "status_reason": grant.status_reason,
                "licensor": grant.licensor,
                "licensee": grant.licensee,
                "issued_at": grant.issued_at,
                "effective_at": effective_at(grant.status, grant.issued_at, grant.term_end),
                "term_start": grant.term_start,
                "term_end": grant.term_end,
                "all_works": grant.all_works,
                "source_message_id": source_id,
                "territories": json.dumps(list(grant.territories)),
                "excluded_territories": json.dumps(list(grant.excluded_territories)),
                "source_message": grant.source_message,
                "content_hash": grant.content_hash,
                "recorded_at": datetime.now(UTC),
            },
        ).scalar()
        if grant_id is None:
            row = connection.execute(
                sa.select(_GRANT.c.id, _GRANT.c.content_hash).where(
                    _GRANT.c.source_message_id == source_id
                )
            ).one()
            if row.content_hash != grant.content_hash:
                raise IdempotencyConflictError(
                    f"source message {source_id!r} was recorded before (grant {row.id}, "
                    f"licence {grant.licence_id!r}) with different content",
                    key=source_id,
                    existing_id=row.id,
                )
            return int(row.id), False
        connection.execute(
            sa.insert(_USE), [{"grant_id": grant_id, "use_type": u} for u in grant.use_types]
        )
        if grant.work_ids:
            connection.execute(
                sa.insert(_WORK), [{"grant_id": grant_id, "work_id": w} for w in grant.work_ids]
            )
        return int(grant_id), True

    # --- queries -------------------------------------------------------------------------

    def history(self, licence_id: str | None = None) -> list[GrantPublic]:
        """Every recorded state of ``licence_id`` (of all licences when ``None``), in order:
        by licence, then issue time, then arrival."""
        query = sa.select(_GRANT)
        if licence_id is not None:
            query = query.where(_GRANT.c.licence_id == licence_id)
        return self._load(query)

    def state_on(self, licence_id: str, on: date | datetime) -> GrantPublic | None:
        """The state of ``licence_id`` that held on ``on`` (``None``: not issued by then)."""
        issued_by, _ = _cutoff(on)
        query = (
            sa.select(_GRANT)
            .where(_GRANT.c.licence_id == licence_id, issued_by)
            .order_by(_GRANT.c.effective_at.desc(), _GRANT.c.issued_at.desc(), _GRANT.c.id.desc())
            .limit(1)
        )
        found = self._load(query)
        return found[0] if found else None

    def in_force(
        self,
        on: date | datetime,
        *,
        licensee: str | None = None,
        licensor: str | None = None,
        work_id: str | None = None,
        use_type: str | None = None,
        territory: str | None = None,
    ) -> list[GrantPublic]:
        """The licences in force on ``on`` (see the module doc), optionally only those for
        ``licensee`` / from ``licensor`` / covering ``work_id``, ``use_type`` and
        ``territory`` (an ISO 3166-1 alpha-2 code). Each licence appears once, as its state
        on that day."""
        issued_by, day = _cutoff(on)
        rank = (
            sa.func.row_number()
            .over(
                partition_by=_GRANT.c.licence_id,
                order_by=(
                    _GRANT.c.effective_at.desc(),
                    _GRANT.c.issued_at.desc(),
                    _GRANT.c.id.desc(),
                ),
            )
            .label("state_rank")
        )
        latest = sa.select(_GRANT.c.id, rank).where(issued_by).subquery()
        query = (
            sa.select(_GRANT)
            .join(latest, latest.c.id == _GRANT.c.id)
            .where(
                latest.c.state_rank == 1,
                _GRANT.c.status == str(GrantStatus.GRANTED),
                _GRANT.c.term_start <= day,
                sa.or_(_GRANT.c.term_end.is_(None), _GRANT.c.term_end >= day),
            )
        )
        if licensee is not None:
            query = query.where(_GRANT.c.licensee == licensee)
        if licensor is not None:
            query = query.where(_GRANT.c.licensor == licensor)
        if use_type is not None:
            query = query.where(
                sa.exists().where(_USE.c.grant_id == _GRANT.c.id, _USE.c.use_type == use_type)
            )
        if work_id is not None:
            query = query.where(
                sa.or_(
                    _GRANT.c.all_works.is_(True),
                    sa.exists().where(_WORK.c.grant_id == _GRANT.c.id, _WORK.c.work_id == work_id),
                )
            )
        grants = self._load(query)
        if territory is not None:
            grants = [g for g in grants if _covers_territory(g, territory)]
        return grants

    def source_message(self, grant_id: int) -> bytes | None:
        """The raw source message recorded with grant ``grant_id`` (``None`` if not kept)."""
        with read_transaction(self.engine) as connection:
            value = connection.execute(
                sa.select(_GRANT.c.source_message).where(_GRANT.c.id == grant_id)
            ).scalar()
        return bytes(value) if value is not None else None

    def _load(self, query: sa.Select[Any]) -> list[GrantPublic]:
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
            ids = [row["id"] for row in rows]
            uses: dict[int, list[str]] = {i: [] for i in ids}
            works: dict[int, list[str]] = {i: [] for i in ids}
            for chunk in chunked(ids):
                for grant_id, use in connection.execute(
                    sa.select(_USE.c.grant_id, _USE.c.use_type).where(_USE.c.grant_id.in_(chunk))
                ):
                    uses[grant_id].append(use)
                for grant_id, work in connection.execute(
                    sa.select(_WORK.c.grant_id, _WORK.c.work_id).where(_WORK.c.grant_id.in_(chunk))
                ):
                    works[grant_id].append(work)
        grants = [
            GrantPublic(
                id=row["id"],
                effective_at=row["effective_at"],
                licence_id=row["licence_id"],
                status=GrantStatus(row["status"]),
                status_reason=row["status_reason"],
                licensor=row["licensor"],
                licensee=row["licensee"],
                issued_at=row["issued_at"],
                term_start=row["term_start"],
                term_end=row["term_end"],
                all_works=row["all_works"],
                source_message_id=row["source_message_id"],
                use_types=sorted(uses[row["id"]]),
                work_ids=sorted(works[row["id"]]),
                territories=json.loads(row["territories"]),
                excluded_territories=json.loads(row["excluded_territories"]),
                recorded_at=row["recorded_at"],
            )
            for row in rows
        ]
        grants.sort(key=lambda g: (g.licence_id, g.issued_at, g.id))
        return grants


def _covers_territory(grant: GrantPublic, territory: str) -> bool:
    if territory in grant.territories:
        return True
    return WORLDWIDE in grant.territories and territory not in grant.excluded_territories


def stored_grant_hash(grant: GrantPublic, source_message: bytes | None) -> str:
    """The content hash of a stored grant, recomputed from its rows (used by the checker)."""
    return _grant_hash(grant, source_message)
