"""Builders shared by the registry tests: declarations, works and licence scopes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import airex
from airex.messages import (
    AIUsePreference,
    MessageHeader,
    Party,
    RightsShare,
    Territory,
    Work,
    WorkDeclarationMessage,
    WorkId,
    WorkList,
)
from airex.registry import DeclaredWork, LicenceScope, Preference, Share
from parties import CMO

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DECLARATIONS = sorted((SAMPLES / "work-declaration").glob("*.xml"))
LABEL = "PADPIDA2026LANTERNFISH"
OTHER = "PADPIDA2026RIVALRECORDS"
TRAINING = "UseForTrainingGenerativeAI"
OTHER_TRAINING = "UseForTrainingNonGenerativeAI"
MINING = "UseForDataMining"
INPUT = "UseAsAIInput"
INDEXING = "UseForAISearchIndexing"
Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def territory(codes: Sequence[str], excluded: Sequence[str] = ()) -> Territory | None:
    """A Territory element, ``None`` for ``()`` (absent = Worldwide)."""
    if not codes:
        return None
    return Territory(territory_codes=list(codes), excluded_territory_codes=list(excluded))


def message_work(
    reference: str,
    ids: Sequence[tuple[str, str] | tuple[str, str, str]],
    *,
    title: str = "A Work",
    work_type: str = "SoundRecording",
    shares: Sequence[tuple[Any, ...]] = ((LABEL, "100"),),
    preferences: Sequence[tuple[Any, ...]] = (),
) -> Work:
    """A declared Work: ids ``(type, value[, namespace])``, shares ``(party, pct[, codes])``,
    preferences ``(use_type, OptIn|OptOut[, effective date[, codes[, excluded]]])``."""
    return Work(
        work_reference=reference,
        work_ids=[
            WorkId(type=i[0], value=i[1], namespace=i[2] if len(i) > 2 else None) for i in ids
        ],
        title=title,
        work_type=work_type,
        rights_shares=[
            RightsShare(
                rightsholder_party_id=s[0],
                share_percentage=Decimal(s[1]),
                territory=territory(s[2]) if len(s) > 2 else None,
            )
            for s in shares
        ],
        ai_use_preferences=[
            AIUsePreference(
                use_type=p[0],
                preference=p[1],
                effective_date=p[2] if len(p) > 2 else None,
                territory=territory(p[3], p[4] if len(p) > 4 else ()) if len(p) > 3 else None,
            )
            for p in preferences
        ],
    )


def declaration(
    works: Sequence[Work],
    *,
    sender: str = LABEL,
    message_id: str = "MSG-1",
    created: datetime = datetime(2025, 11, 7, 16, 40, tzinfo=UTC),
    on_behalf: str | None = None,
    test: bool = False,
) -> tuple[WorkDeclarationMessage, bytes]:
    """A valid WorkDeclarationMessage and its bytes."""
    header = MessageHeader.build(sender, CMO, test=test)
    header.message_id = message_id
    header.message_created_date_time = created
    if on_behalf is not None:
        header.sent_on_behalf_of = Party(party_id=on_behalf)
    message = WorkDeclarationMessage(message_header=header, work_list=WorkList(works=list(works)))
    raw = airex.serialise(message)
    assert airex.check(raw).errors == []
    return message, raw


def plain(
    ids: Sequence[tuple[str, str] | tuple[str, str, str | None]],
    *,
    shares: Sequence[Share | tuple[Any, ...]] = (Share(LABEL, Decimal(100)),),
    preferences: Sequence[Preference | tuple[Any, ...]] = (),
    work_type: str = "SoundRecording",
    title: str = "A Work",
) -> DeclaredWork:
    """A plain-data work."""
    return DeclaredWork(
        work_ids=tuple((i[0], i[1], i[2] if len(i) > 2 else None) for i in ids),
        title=title,
        work_type=work_type,
        shares=tuple(shares),
        preferences=tuple(preferences),
    )


def scope(**changes: Any) -> LicenceScope:
    """A Granted, Worldwide, all-works licence for 2026 permitting training and mining."""
    values: dict[str, Any] = {
        "licence_id": "LIC-1",
        "status": "Granted",
        "use_types": frozenset({TRAINING, MINING}),
        "territories": frozenset({"Worldwide"}),
        "excluded_territories": frozenset(),
        "term_start": date(2026, 1, 1),
        "term_end": date(2026, 12, 31),
    }
    values.update(changes)
    return LicenceScope(**values)
