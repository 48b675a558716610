"""Warnings for the acknowledgement of a priced usage report: held usage, listed, capped.

Every record held back becomes one :class:`~airex.errors.MessageError` with status
``MessageAccepted`` (a warning on an accepted message): code = the reason, ``line`` = the
record's line, text naming the file, the work and the use type. At most
:data:`WARNING_LIMIT` records are listed; one final ``MoreHeldRecords`` entry says how many
more there are and where they are kept (``airex royalties held REPORT_ID``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from airex.errors import MessageError, MessageStatus
from airex.messages.acknowledgement import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
)
from airex.messages.codes import MessageStatus as AckStatus
from airex.messages.common import MessageHeader
from airex.royalties._types import HeldRecord

__all__ = [
    "WARNING_LIMIT",
    "acknowledgement",
    "held_warning",
    "refusal_acknowledgement",
    "warnings_for",
]

WARNING_LIMIT = 1000
"""Held records listed one by one in an acknowledgement; the rest are counted."""

_HELD_CODES: dict[str, str] = {
    "OptedOut": "OptedOut",
    "NoPreferenceOptInRegime": "NoPreferenceOptInRegime",
    "UnknownWork": "UnknownWork",
    "OutsideRepertoire": "OutsideRepertoire",
    "UseTypeNotLicensed": "UseTypeNotLicensed",
    "OutsideTerm": "OutsideTerm",
    "OutsideTerritory": "OutsideTerritory",
    "LicenceNotInForce": "LicenceNotInForce",
    "NoTariffForUsage": "NoTariffForUsage",
    "RevenueNotReported": "RevenueNotReported",
}
"""Held reason → warning code (the same word; literal so that the catalogue test sees it)."""

_MEANING = {
    "OptedOut": "the rightsholder opted out of this use type",
    "NoPreferenceOptInRegime": "no preference stated and the CMO licenses opted-in works only",
    "UnknownWork": "no work in the registry has this identifier",
    "OutsideRepertoire": "the work is not in the licence's repertoire",
    "UseTypeNotLicensed": "the licence does not permit this use type",
    "OutsideTerm": "the reporting period is not inside the licence's term",
    "OutsideTerritory": "the licence's territory does not cover this use",
    "LicenceNotInForce": "the licence was not in force (suspended, revoked or expired)",
    "NoTariffForUsage": "no tariff of the licence prices this use type in this unit",
    "RevenueNotReported": "only a revenue share prices it, and no revenue was reported",
}


def held_warning(record: HeldRecord) -> MessageError:
    """The acknowledgement warning for one held record."""
    meaning = _MEANING.get(record.reason, record.reason)
    works = ", ".join(record.work_ids)
    text = (
        f"{os.path.basename(record.file)} line {record.line}: work {works}, "
        f"{record.use_type} ({record.quantity:f} {record.unit}) not priced: {meaning}; "
        "kept for follow-up"
    )
    return MessageError(
        _HELD_CODES.get(record.reason, "NoTariffForUsage"),
        _clip(text),
        line=record.line,
        status=MessageStatus.MESSAGE_ACCEPTED,
        file=record.file,
    )


def _clip(text: str) -> str:
    return text if len(text) <= 1024 else text[:1023] + "…"


def warnings_for(
    report_id: str,
    listed: Sequence[HeldRecord],
    held_total: int,
    report_warnings: Sequence[MessageError] = (),
) -> list[MessageError]:
    """The warnings of a priced report: report-level ones first, then the first held records
    (at most :data:`WARNING_LIMIT`), then, when more were held, one ``MoreHeldRecords``."""
    warnings = list(report_warnings)
    warnings.extend(held_warning(record) for record in listed[:WARNING_LIMIT])
    shown = min(len(listed), WARNING_LIMIT)
    if held_total > shown:
        warnings.append(
            MessageError(
                "MoreHeldRecords",
                f"{held_total - shown:,} more held records are not listed here; all "
                f"{held_total:,} held records of report {report_id} are kept in the held "
                f"usage table (airex royalties held {report_id})",
                status=MessageStatus.MESSAGE_ACCEPTED,
            )
        )
    return warnings


def acknowledgement(
    header: MessageHeader,
    warnings: Sequence[MessageError],
    *,
    sender: str,
    file_name: str | None = None,
) -> AcknowledgementMessage:
    """The AcknowledgementMessage of an accepted, priced usage report: from ``sender`` (the
    CMO) to the report's sender, status MessageAccepted, the warnings as ``Error`` entries."""
    entries = [
        AcknowledgementError(
            error_code=w.code, path=w.path, line_number=w.line, error_text=_clip(w.message)
        )
        for w in warnings
    ]
    return _reply(header, AckStatus.MESSAGE_ACCEPTED, entries, sender, file_name)


def refusal_acknowledgement(
    header: MessageHeader,
    errors: Sequence[MessageError],
    *,
    sender: str,
    file_name: str | None = None,
) -> AcknowledgementMessage:
    """The AcknowledgementMessage of a usage report refused whole (not priced): from ``sender``
    to the report's sender, the status of the first error (``XmlNotWellFormed`` for a damaged
    report, ``BusinessRuleViolation`` for an unknown licence...), every error listed."""
    status = AckStatus(errors[0].status.value) if errors else AckStatus.BUSINESS_RULE_VIOLATION
    entries = [
        AcknowledgementError(
            error_code=e.code,
            path=e.path,
            line_number=e.line if e.line is not None and e.line >= 1 else None,
            error_text=_clip(e.message + (f" ({e.file})" if e.file else "")),
        )
        for e in errors
    ]
    return _reply(header, status, entries, sender, file_name)


def _reply(
    header: MessageHeader,
    status: AckStatus,
    entries: list[AcknowledgementError],
    sender: str,
    file_name: str | None,
) -> AcknowledgementMessage:
    """The acknowledgement of the message ``header``: from ``sender`` to its sender, in its
    thread, with ``status`` and ``entries``."""
    return AcknowledgementMessage(
        message_header=MessageHeader.build(
            sender,
            header.message_sender.party_id,
            thread_id=header.message_thread_id,
        ),
        acknowledgements=[
            Acknowledgement(
                acknowledged_message_id=header.message_id,
                acknowledged_file_name=file_name,
                message_status=status,
                errors=entries,
            )
        ],
    )
