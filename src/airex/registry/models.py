"""The registry's tables (SQLModel), and the read models its API returns.

Everything is append-only (the migration installs triggers that make the database refuse
``UPDATE`` and ``DELETE`` on every registry table):

``registry_source``
    one row per import: a WorkDeclarationMessage (``source_key`` = ``<sender>:<MessageId>``)
    or a bulk load (its name). The declaring party, the instant and the date the declaration
    takes effect, optionally the raw message bytes.
``registry_source_complete``
    written when an import has finished: its content hash (what makes re-importing the same
    source a no-op, and importing other content under the same source an error) and counts.
``registry_work``
    one row per work: its key (``id``) and the party it belongs to (``owner``).
``registry_version``
    one row per declaration of a work: title, type, the date it takes effect from, the
    preference set it states; a later version supersedes from its date, nothing is edited.
``registry_identifier``
    the identifiers each version declares, with their normalised key
    (:func:`~airex.registry.identifiers.identifier_key`); an identifier resolves to the work
    of its *first* row (see :mod:`airex.registry.registry`).
``registry_share``
    the rightsholders' shares of each version, in hundredths of a percent (100 % = 10000),
    with the territory of their group.
``registry_preference_set`` / ``registry_preference``
    AI-use preference lists, stored once per distinct content and shared by every version
    that states the same list (a catalogue often opts whole in or out alike).
``registry_conflict``
    identifiers a declaration names that belong to another work (see
    :class:`~airex.registry.Conflict`).

Ids are assigned by the importer (the write lock is held), which keeps bulk loads fast.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from airex.db import UTCDateTime

__all__ = [
    "ContributorPublic",
    "PreferencePublic",
    "RegistryConflict",
    "RegistryIdentifier",
    "RegistryPreference",
    "RegistryPreferenceSet",
    "RegistryShare",
    "RegistrySource",
    "RegistrySourceComplete",
    "RegistryVersion",
    "RegistryWork",
    "SharePublic",
    "UTCDateTime",
    "VersionPublic",
    "WorkIdPublic",
    "WorkPublic",
    "registry_tables",
    "table",
]

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids; on SQLite ``INTEGER`` so that the id is the rowid."""

PARTY_LENGTH = 64
KEY_LENGTH = 255
ID_KEY_LENGTH = 600  # "Proprietary::" + namespace (64) + "::" + value (512)


class RegistrySource(SQLModel, table=True):
    """Table ``registry_source``: one import (a message, or a named bulk load)."""

    __tablename__: ClassVar[Any] = "registry_source"
    __table_args__ = (sa.UniqueConstraint("source_key", name="uq_registry_source_key"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    source_key: str = Field(sa_type=sa.String(KEY_LENGTH))
    sender: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))
    message_id: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))
    recipient: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))
    declared_by: str = Field(sa_type=sa.String(PARTY_LENGTH))
    declared_at: datetime = Field(sa_type=UTCDateTime())
    effective_from: date
    raw_message: bytes | None = Field(default=None, sa_type=sa.LargeBinary())
    recorded_at: datetime = Field(sa_type=UTCDateTime())


class RegistrySourceComplete(SQLModel, table=True):
    """Table ``registry_source_complete``: an import that finished, its hash and counts."""

    __tablename__: ClassVar[Any] = "registry_source_complete"

    source_id: int = Field(
        primary_key=True,
        foreign_key="registry_source.id",
        sa_type=ID_TYPE,
        sa_column_kwargs={"autoincrement": False},
    )
    content_hash: str = Field(sa_type=sa.String(64))
    works: int = Field(sa_type=sa.BigInteger())
    new_works: int = Field(sa_type=sa.BigInteger())
    new_versions: int = Field(sa_type=sa.BigInteger())
    unchanged: int = Field(sa_type=sa.BigInteger())
    conflicts: int = Field(sa_type=sa.BigInteger())
    completed_at: datetime = Field(sa_type=UTCDateTime())


class RegistryWork(SQLModel, table=True):
    """Table ``registry_work``: a work's key and the party whose declarations it holds."""

    __tablename__: ClassVar[Any] = "registry_work"

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    owner: str = Field(sa_type=sa.String(PARTY_LENGTH))
    source_id: int = Field(foreign_key="registry_source.id", sa_type=ID_TYPE)


class RegistryPreferenceSet(SQLModel, table=True):
    """Table ``registry_preference_set``: one distinct list of AI-use preferences."""

    __tablename__: ClassVar[Any] = "registry_preference_set"
    __table_args__ = (sa.UniqueConstraint("content_hash", name="uq_registry_preference_set"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    content_hash: str = Field(sa_type=sa.String(32))


class RegistryPreference(SQLModel, table=True):
    """Table ``registry_preference``: one AIUsePreference of a preference set."""

    __tablename__: ClassVar[Any] = "registry_preference"
    __table_args__ = (
        sa.CheckConstraint(
            "preference IN ('OptIn', 'OptOut')", name="ck_registry_preference_value"
        ),
        {"sqlite_with_rowid": False},
    )

    set_id: int = Field(primary_key=True, foreign_key="registry_preference_set.id", sa_type=ID_TYPE)
    position: int = Field(primary_key=True, sa_type=sa.Integer())
    use_type: str = Field(sa_type=sa.String(64))
    preference: str = Field(sa_type=sa.String(8))
    effective_date: date | None = None
    territory: str = Field(sa_type=sa.Text())
    excluded: str = Field(sa_type=sa.Text())


class RegistryVersion(SQLModel, table=True):
    """Table ``registry_version``: one declaration of a work, in effect from its date.

    ``ordinal`` is the work's position in its source (so that an interrupted bulk import can
    be resumed), ``content_hash`` a digest of what was declared (ids, title, type, shares,
    preferences...), ``contributors`` a JSON list of ``[name, role]``.
    """

    __tablename__: ClassVar[Any] = "registry_version"
    __table_args__ = (sa.Index("ix_registry_version_work", "work_id", "effective_from"),)

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    work_id: int = Field(foreign_key="registry_work.id", sa_type=ID_TYPE)
    source_id: int = Field(foreign_key="registry_source.id", sa_type=ID_TYPE)
    ordinal: int = Field(sa_type=sa.BigInteger())
    effective_from: date
    declared_at: datetime = Field(sa_type=UTCDateTime())
    reference: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))
    title: str = Field(sa_type=sa.Text())
    work_type: str = Field(sa_type=sa.String(32))
    contains_ai: str | None = Field(default=None, sa_type=sa.String(16))
    contributors: str | None = Field(default=None, sa_type=sa.Text())
    preference_set_id: int | None = Field(
        default=None, foreign_key="registry_preference_set.id", sa_type=ID_TYPE
    )
    content_hash: str = Field(sa_type=sa.String(32))


class RegistryIdentifier(SQLModel, table=True):
    """Table ``registry_identifier``: an identifier a version declares, with its key."""

    __tablename__: ClassVar[Any] = "registry_identifier"
    __table_args__ = (
        sa.Index("ix_registry_identifier_key", "id_key"),
        sa.Index("ix_registry_identifier_version", "version_id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    version_id: int = Field(foreign_key="registry_version.id", sa_type=ID_TYPE)
    work_id: int = Field(foreign_key="registry_work.id", sa_type=ID_TYPE)
    id_key: str = Field(sa_type=sa.String(ID_KEY_LENGTH))
    type: str = Field(sa_type=sa.String(16))
    value: str = Field(sa_type=sa.String(512))
    namespace: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))


class RegistryShare(SQLModel, table=True):
    """Table ``registry_share``: a rightsholder's share of a version, in a territory group."""

    __tablename__: ClassVar[Any] = "registry_share"
    __table_args__ = (
        sa.CheckConstraint(
            "hundredths > 0 AND hundredths <= 10000", name="ck_registry_share_range"
        ),
        {"sqlite_with_rowid": False},
    )

    version_id: int = Field(primary_key=True, foreign_key="registry_version.id", sa_type=ID_TYPE)
    position: int = Field(primary_key=True, sa_type=sa.Integer())
    party: str = Field(sa_type=sa.String(PARTY_LENGTH))
    hundredths: int = Field(sa_type=sa.Integer())
    territory: str = Field(sa_type=sa.Text())
    excluded: str = Field(sa_type=sa.Text())


class RegistryConflict(SQLModel, table=True):
    """Table ``registry_conflict``: an identifier a declaration names that another work holds.

    ``kind`` is ``OtherParty`` (held by another party's work) or ``SeveralWorks`` (the
    declaration names identifiers of two of the declaring party's own works).
    """

    __tablename__: ClassVar[Any] = "registry_conflict"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "ordinal", "id_key", name="uq_registry_conflict"),
        sa.CheckConstraint(
            "kind IN ('OtherParty', 'SeveralWorks')", name="ck_registry_conflict_kind"
        ),
        sa.Index("ix_registry_conflict_work", "work_id"),
    )

    id: int = Field(primary_key=True, sa_type=ID_TYPE, sa_column_kwargs={"autoincrement": False})
    source_id: int = Field(foreign_key="registry_source.id", sa_type=ID_TYPE)
    ordinal: int = Field(sa_type=sa.BigInteger())
    reference: str | None = Field(default=None, sa_type=sa.String(PARTY_LENGTH))
    work_id: int = Field(foreign_key="registry_work.id", sa_type=ID_TYPE)
    id_key: str = Field(sa_type=sa.String(ID_KEY_LENGTH))
    held_by_work_id: int = Field(foreign_key="registry_work.id", sa_type=ID_TYPE)
    held_by_party: str = Field(sa_type=sa.String(PARTY_LENGTH))
    kind: str = Field(sa_type=sa.String(16))


# --- read models ---------------------------------------------------------------------------


class WorkIdPublic(SQLModel):
    """One identifier of a work as declared; ``resolves`` is false when the identifier belongs
    to another work (it was declared there first: see :class:`~airex.registry.Conflict`)."""

    type: str
    value: str
    namespace: str | None = None
    key: str
    resolves: bool = True


class ContributorPublic(SQLModel):
    """A contributor as declared."""

    name: str
    role: str


class SharePublic(SQLModel):
    """A rightsholder's share in a territory group (``["Worldwide"]`` less ``excluded``)."""

    party_id: str
    percentage: Decimal
    territories: list[str]
    excluded: list[str] = []


class PreferencePublic(SQLModel):
    """An AI-use preference: OptIn or OptOut of a use type, from a date, in a territory."""

    use_type: str
    preference: str
    effective_date: date | None = None
    territories: list[str]
    excluded: list[str] = []


class VersionPublic(SQLModel):
    """One declaration of a work: what it said, who said it and from when it holds."""

    version_id: int
    effective_from: date
    declared_at: datetime
    source: str
    """The import it came from: ``<sender>:<MessageId>`` for a message."""
    reference: str | None = None
    title: str
    work_type: str
    contains_ai: str | None = None
    contributors: list[ContributorPublic] = []
    ids: list[WorkIdPublic]
    shares: list[SharePublic]
    preferences: list[PreferencePublic] = []


class WorkPublic(VersionPublic):
    """A work as the API returns it: its key, owner, the version in effect, and how many
    versions it has."""

    key: int
    owner: str
    versions: int


def registry_tables() -> list[sa.Table]:
    """The registry's tables in creation order (parents before children)."""
    return [
        table(model)
        for model in (
            RegistrySource,
            RegistrySourceComplete,
            RegistryWork,
            RegistryPreferenceSet,
            RegistryPreference,
            RegistryVersion,
            RegistryIdentifier,
            RegistryShare,
            RegistryConflict,
        )
    ]


def table(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy ``Table`` of a SQLModel table class."""
    result = model.__table__  # type: ignore[attr-defined]
    assert isinstance(result, sa.Table)
    return result
