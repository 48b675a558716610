"""Checking a flat-file report's UR01 records: the full checks of a record that missed a cache.

The reader's loop (:meth:`FlatUsageReader._scan`) takes a record whose cells are all in its
caches or match the fast patterns as it is; any other record comes here, where every cell is
checked and each problem reported (FlatFileInvalid, the WorkId codes, ValueNotAllowed,
InvalidValue, ValueOutOfRange, TooManyFractionDigits, InvalidIdentifier). Cells found valid go
into the bounded caches the loop reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from airex.formats.usage._flat_form import (
    _IDENTIFIER,
    _IDS_CAP,
    _MODEL_CAP,
    _remember,
    _schema_error,
)
from airex.formats.usage._records import UsageReader, UsageRow, WorkRef, work_id_error
from airex.messages.codes import Unit, UseType
from airex.messages.identifiers import (
    WORK_ID_MAX_LENGTH,
    check_doi,
    check_isbn,
    check_iscc,
    check_isrc,
    check_iswc,
    check_url,
)

__all__: list[str] = []

_USE_TYPES: Final[dict[str, str]] = {u.value: u.value for u in UseType}
_UNITS: Final[dict[str, str]] = {u.value: u.value for u in Unit}
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_FAST_CHECKS: Final[dict[str, tuple[str, Callable[[str], str | None]]]] = {
    name: (name, check)
    for name, check in (
        ("ISCC", check_iscc),
        ("ISRC", check_isrc),
        ("ISWC", check_iswc),
        ("ISBN", check_isbn),
        ("DOI", check_doi),
        ("URL", check_url),
    )
}
"""WorkId Types but Proprietary: canonical name and check (Proprietary takes the full path)."""


class _RecordChecks(UsageReader):
    """The UR01 part of :class:`~airex.formats.usage.FlatUsageReader`: a record checked cell by
    cell, and the caches of the cells found valid."""

    _ids: dict[str, tuple[WorkRef, ...]]
    _models: dict[str, str]

    def _checked_row(self, cells: list[str], line: int, path: str) -> UsageRow | None:
        """The record of a UR01 line that missed a cache: every cell checked, errors reported."""
        _, ids_cell, use_cell, quantity_cell, unit_cell, share_cell, model_cell = cells
        ok = True
        ids = self._ids.get(ids_cell)
        if ids is None:
            ids = self._work_ids(ids_cell, line, path)
            ok = ids is not None
        use = _USE_TYPES.get(use_cell)
        if use is None:
            ok = False
            self._fail(
                _schema_error(
                    "ValueNotAllowed",
                    f"UseType {use_cell[:80]!r} is not one of {', '.join(_USE_TYPES)}",
                    path,
                    line,
                    "UR01/UseType",
                )
            )
        quantity = self._decimal(quantity_cell, "Quantity", line, path, at_most_one=False)
        if quantity is None:
            ok = False
        unit = _UNITS.get(unit_cell)
        if unit is None:
            ok = False
            self._fail(
                _schema_error(
                    "ValueNotAllowed",
                    f"Unit {unit_cell[:80]!r} is not one of {', '.join(_UNITS)}",
                    path,
                    line,
                    "UR01/Unit",
                )
            )
        share: Decimal | None = None
        if share_cell:
            share = self._decimal(share_cell, "AttributionShare", line, path, at_most_one=True)
            if share is None:
                ok = False
        model: str | None = None
        if not model_cell:
            pass
        elif model_cell in self._models:
            model = model_cell
        elif _IDENTIFIER.fullmatch(model_cell) is not None:
            model = model_cell
            _remember(self._models, model_cell, model_cell, _MODEL_CAP)
        else:
            ok = False
            self._fail(
                _schema_error(
                    "InvalidIdentifier",
                    f"ModelId {model_cell[:80]!r} is not 1-64 characters of [A-Za-z0-9._:-]",
                    path,
                    line,
                    "UR01/ModelId",
                )
            )
        if not ok or ids is None or use is None or quantity is None or unit is None:
            return None
        return UsageRow(ids, use, quantity, unit, share, model, line, path)

    def _fast_ids(self, cell: str) -> tuple[WorkRef, ...] | None:
        """The ids of a WorkIds cell of valid non-Proprietary ids, else None (the full path)."""
        refs = []
        for text in cell.split("|"):
            type_, _, value = text.partition("::")
            known = _FAST_CHECKS.get(type_)
            if known is None or not value or len(value) > WORK_ID_MAX_LENGTH:
                return None
            name, check = known
            if check(value) is not None:
                return None
            refs.append(_new_work_ref(name, value))
        ids = tuple(refs)
        _remember(self._ids, cell, ids, _IDS_CAP)
        return ids

    def _work_ids(self, cell: str, line: int, path: str) -> tuple[WorkRef, ...] | None:
        if not cell:
            self._fail(
                _schema_error(
                    "FlatFileInvalid", "the record has no WorkId", path, line, "UR01/WorkIds"
                )
            )
            return None
        refs: list[WorkRef] = []
        ok = True
        for position, text in enumerate(cell.split("|"), start=1):
            try:
                ref = WorkRef.from_flat(text)
            except ValueError as exc:
                ok = False
                self._fail(
                    _schema_error(
                        "FlatFileInvalid",
                        f"WorkId {position}: {str(exc)[:200]}",
                        path,
                        line,
                        "UR01/WorkIds",
                    )
                )
                continue
            error = work_id_error(ref, path="UR01/WorkIds", line=line, file=path)
            if error is not None:
                ok = False
                self._fail(error)
            refs.append(ref)
        if not ok:
            return None
        ids = tuple(refs)
        _remember(self._ids, cell, ids, _IDS_CAP)
        return ids

    def _decimal(
        self, text: str, column: str, line: int, path: str, *, at_most_one: bool
    ) -> Decimal | None:
        where = f"UR01/{column}"
        if _DECIMAL.fullmatch(text) is None:
            shown = f"{text[:40]!r} is not a decimal number" if text else "is empty"
            self._fail(_schema_error("InvalidValue", f"{column} {shown}", path, line, where))
            return None
        value = Decimal(text)
        if value < 0:
            self._fail(
                _schema_error("ValueOutOfRange", f"{column} {text} is negative", path, line, where)
            )
            return None
        if at_most_one and value > 1:
            self._fail(
                _schema_error(
                    "ValueOutOfRange", f"{column} {text} is more than 1", path, line, where
                )
            )
            return None
        digits = len(text.partition(".")[2].rstrip("0"))
        if digits > 6:
            self._fail(
                _schema_error(
                    "TooManyFractionDigits",
                    f"{column} {text} has {digits} fraction digits, at most 6",
                    path,
                    line,
                    where,
                )
            )
            return None
        return value


def _new_work_ref(type_: str, value: str) -> WorkRef:
    return tuple.__new__(WorkRef, (type_, value, None))
