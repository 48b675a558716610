"""Realistic synthetic usage reports, for benchmarks, demos and tests.

An AI developer reports a quarter's usage to a collective management organisation under a
licence: ``works`` distinct works with valid identifiers (mostly ISRCs, some ISWCs and ISBN-13s
with correct check digits, a few named by a second id), used with a Zipf-like popularity (a few
works account for much of the usage, every work is used at least once when there are enough
records), use types mostly ``UseForTrainingGenerativeAI`` in tokens, with retrieval counts for
``UseAsAIInput``, data mining in tokens or bytes, now and then fractional (apportioned)
quantities with up to 6 fraction digits, an occasional AttributionShare and 2-3 models.

Everything is drawn from ``random.Random`` seeded by ``seed``: the same arguments give the same
report, byte for byte. Generation is cheap next to writing: the works table is built once and
each record costs a few random draws and one Decimal.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from airex._gc import paused_gc
from airex.formats.usage._records import ReportHeader, UsageRow, UsageWriter, WorkRef
from airex.messages.codes import PartyRole, RevenueType
from airex.messages.common import MessageHeader, Party, Period
from airex.messages.identifiers import isbn13_check_digit, iswc_check_digit
from airex.messages.usage import Model, ReportedRevenue

__all__ = ["generate_report", "generate_rows", "generate_works", "synthetic_header"]

MAX_WORKS = 1_000_000
"""The default number of distinct works (``n // 10``) is capped here."""

SOURCE = "<synthetic>"
"""The ``file`` of generated rows (their ``line`` is the record's number)."""

_ZIPF_EXPONENT = 1.1
_SEQUENTIAL_SHARE = 0.5  # records that take the next not-yet-used work (so all works appear)
_ISRC_PREFIXES = 997  # distinct country + registrant + year triples (prime: works cycle them)
_COUNTRIES = ("GB", "US", "DE", "FR", "NL", "SE", "JP", "KR", "BR", "ES", "IT", "AU", "CA", "NO")
_ALNUM = string.ascii_uppercase + string.digits
_DEVELOPERS = (
    ("CADENZA", "Cadenza Audio AI Ltd", ("MELODY", "STEMS", "LYRIC")),
    ("LOOKOUT", "Lookout Language Models GmbH", ("SCOUT", "HARBOUR", "TIDE")),
    ("NORTHWIND", "Northwind Generative Labs Inc.", ("GALE", "BREEZE", "SQUALL")),
)
_CMOS = (
    ("HARM", "HARMONIA", "Harmonia Music Rights Society"),
    ("VERB", "VERBATIM", "Verbatim Collective for Authors and Publishers"),
    ("SONO", "SONORA", "Sonora Performing Rights"),
)

_TRAINING = "UseForTrainingGenerativeAI"
_TRAINING_OTHER = "UseForTrainingNonGenerativeAI"
_MINING = "UseForDataMining"
_INPUT = "UseAsAIInput"
_INDEXING = "UseForAISearchIndexing"
_ONE = Decimal(1)


def synthetic_header(n: int, *, seed: int = 0) -> ReportHeader:
    """The header of a synthetic report of ``n`` records: developer → CMO, one quarter."""
    rng = random.Random(f"airex-usage-header-{seed}")  # noqa: S311 - not for secrets
    code, developer, model_names = rng.choice(_DEVELOPERS)
    cmo_code, cmo_id, cmo_name = rng.choice(_CMOS)
    year = 2026
    quarter = rng.randrange(4)
    start = date(year, 3 * quarter + 1, 1)
    end = (date(year + quarter // 3, (3 * quarter + 3) % 12 + 1, 1)) - timedelta(days=1)
    created = datetime.combine(end, datetime.min.time(), UTC) + timedelta(
        days=rng.randrange(1, 15), seconds=rng.randrange(86_400)
    )
    sender = Party(
        party_id=f"PADPIDA{year}{code}", party_name=developer, party_role=PartyRole.AI_DEVELOPER
    )
    recipient = Party(
        party_id=f"PADPIDA{year}{cmo_id}",
        party_name=cmo_name,
        party_role=PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION,
    )
    licence = f"{cmo_code}-LIC-{year}-{rng.randrange(1, 10_000):04d}"
    models = [
        Model(
            model_id=f"{code[:3]}-{name}-{rng.randrange(1, 6)}",
            model_name=f"{developer.split()[0]} {name.title()}",
            model_version=f"{rng.randrange(1, 6)}.{rng.randrange(10)}.{rng.randrange(10)}",
        )
        for name in model_names[: rng.choice((2, 2, 3))]
    ]
    revenues = [
        ReportedRevenue(
            currency="EUR",
            value=Decimal(rng.randrange(10_000_000, 500_000_000)).scaleb(-2),
            revenue_type=revenue_type,
        )
        for revenue_type in (RevenueType.API, RevenueType.SUBSCRIPTION)
    ]
    return ReportHeader(
        message_header=MessageHeader(
            message_thread_id=f"{cmo_code}-THR-{code}-{year}",
            message_id=f"{code[:3]}-MSG-{year}Q{quarter + 1}-{seed}-{n}",
            message_sender=sender,
            message_recipients=[recipient],
            message_created_date_time=created,
        ),
        report_id=f"{code[:3]}-UR-{year}-Q{quarter + 1}-{seed}",
        licence_id=licence,
        reporting_period=Period(start_date=start, end_date=end),
        number_of_records=n,
        models=models,
        reported_revenues=revenues,
    )


def _works_table(count: int, rng: random.Random, header: ReportHeader) -> list[tuple[WorkRef, ...]]:
    """``count`` works with distinct, valid first identifiers, in order of popularity."""
    prefixes: set[str] = set()
    while len(prefixes) < _ISRC_PREFIXES:
        registrant = "".join(rng.choices(_ALNUM, k=3))
        prefixes.add(f"{rng.choice(_COUNTRIES)}{registrant}{rng.randrange(15, 27):02d}")
    isrc_prefixes = sorted(prefixes)
    rng.shuffle(isrc_prefixes)
    designations = [rng.randrange(100_000) for _ in isrc_prefixes]  # where each one starts
    iswc_offset = rng.randrange(10**9)
    isbn_offset = rng.randrange(10**9)
    catalogue = header.message_header.message_sender.party_id
    society = header.message_header.message_recipients[0].party_id
    random_ = rng.random
    new = tuple.__new__  # WorkRef's own __new__ is a Python function: 3 times slower
    table: list[tuple[WorkRef, ...]] = []
    append = table.append
    for i in range(count):
        kind = random_()
        second = random_() < 0.05
        if kind < 0.78:
            # CC + registrant + year + designation: unique while i < 997 * 100 000
            k = i % _ISRC_PREFIXES
            isrc = f"{isrc_prefixes[k]}{(designations[k] + i // _ISRC_PREFIXES) % 100_000:05d}"
            work = new(WorkRef, ("ISRC", isrc, None))
            if second:
                append((work, WorkRef("Proprietary", f"TRK-{i:08d}", catalogue)))
                continue
        elif kind < 0.9:
            digits = f"{(iswc_offset + i * 7919) % 10**9:09d}"  # 7919 is prime to 10**9
            check = iswc_check_digit(digits)
            work = new(
                WorkRef, ("ISWC", f"T-{digits[:3]}.{digits[3:6]}.{digits[6:]}-{check}", None)
            )
            if second:
                append((work, WorkRef("Proprietary", f"W{i:09d}", society)))
                continue
        else:
            digits = f"978{(isbn_offset + i * 7907) % 10**9:09d}"
            isbn = f"{digits}{isbn13_check_digit(digits)}"
            if i % 2:
                isbn = f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}"
            work = new(WorkRef, ("ISBN", isbn, None))
            if second:
                append((work, WorkRef("DOI", f"10.5555/{digits}")))
                continue
        append((work,))
    return table


def _work_count(n: int, works: int | None) -> int:
    count = works if works is not None else min(max(1, n // 10), MAX_WORKS)
    if count < 1:
        raise ValueError(f"works must be at least 1, not {count}")
    return count


def generate_works(
    n: int, *, seed: int = 0, works: int | None = None, header: ReportHeader
) -> list[tuple[WorkRef, ...]]:
    """The works :func:`generate_rows` with the same arguments draws from, most popular first.

    Each work is the tuple of its identifiers (the first is the one records name). What a
    registry must hold for the generated usage to be recognised: benchmarks and the demo
    declare (most of) these works before pricing the report.
    """
    return _table(_work_count(n, works), random.Random(seed), header)  # noqa: S311


def _table(count: int, rng: random.Random, header: ReportHeader) -> list[tuple[WorkRef, ...]]:
    with paused_gc():  # the table is a million small tuples that all live on
        return _works_table(count, rng, header)


def generate_rows(
    n: int, *, seed: int = 0, works: int | None = None, header: ReportHeader
) -> Iterator[UsageRow]:
    """``n`` synthetic usage rows over ``works`` distinct works (default ``n // 10``, capped).

    Every work is used at least once when ``n >= works``; the rest follow a Zipf-like
    popularity. Model ids come from ``header.models``. Deterministic for a seed.
    """
    if n <= 0:
        return
    count = _work_count(n, works)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    table = _table(count, rng, header)
    # Zipf-like ranks by inverting the continuous CDF of x ** -s on [1, count + 1): O(1) a draw
    inverse = 1.0 / (1.0 - _ZIPF_EXPONENT)
    span = (count + 1.0) ** (1.0 - _ZIPF_EXPONENT) - 1.0
    last = count - 1
    model_ids: list[str | None] = [model.model_id for model in header.models] or [None]
    model_count = len(model_ids)
    random_ = rng.random  # random() alone: randrange costs several times more per draw
    new = tuple.__new__
    used = 0  # works taken in sequence so far
    for index in range(n):
        if used < count and (random_() < _SEQUENTIAL_SHARE or n - index <= count - used):
            work = table[used]
            used += 1
        else:
            rank = int((1.0 + random_() * span) ** inverse) - 1
            work = table[rank if rank < last else last]
        kind = random_()
        size = random_()
        share: Decimal | None = None
        if kind < 0.72:
            use_type, unit = _TRAINING, "Token"
            if kind < 0.18:  # tokens apportioned to the work: a fraction, 1 to 6 digits of it
                digits = 1 + int(kind * 33.3)
                scale = 10**digits
                units = 1 + int(size * 5_000_000 * scale)
                quantity = Decimal(f"{units // scale}.{units % scale:0{digits}d}")
            else:
                quantity = Decimal(1_000 + int(size * size * 50_000_000))
            if kind < 0.07:
                share = Decimal(f"0.{1 + int(random_() * 99_999):06d}")
        elif kind < 0.84:
            use_type, unit = _INPUT, "Retrieval"
            quantity = Decimal(1 + int(size * size * 5_000))
            if kind < 0.75:
                share = Decimal(f"0.{1 + int(random_() * 999_999):06d}")
        elif kind < 0.94:
            use_type = _MINING
            if kind < 0.90:
                unit, quantity = "Token", Decimal(1_000 + int(size * 20_000_000))
            else:
                unit, quantity = "Byte", Decimal(10_000 + int(size * 80_000_000))
        elif kind < 0.98:
            use_type, unit = _TRAINING_OTHER, "Token"
            quantity = Decimal(1_000 + int(size * 10_000_000))
        else:
            use_type, unit, quantity = _INDEXING, "Work", _ONE
        model = random_()
        model_id = model_ids[int(model * model_count / 0.85)] if model < 0.85 else None
        yield new(UsageRow, (work, use_type, quantity, unit, share, model_id, index + 1, SOURCE))


def generate_report(
    path: str | os.PathLike[str],
    n: int,
    *,
    seed: int = 0,
    works: int | None = None,
    split_records: int | None = None,
) -> list[str]:
    """Write a synthetic report of ``n`` records to ``path``; return the files written.

    The form follows the name: ``.xml`` / ``.xml.gz`` (XML), ``.tsv`` / ``.tsv.gz`` (flat
    file, split into files of at most ``split_records`` records when given).
    """
    name = os.fspath(path)
    header = synthetic_header(n, seed=seed)
    writer: UsageWriter
    if name.endswith((".xml", ".xml.gz")):
        if split_records is not None:
            raise ValueError("split_records applies to flat files (.tsv, .tsv.gz) only")
        from airex.formats.usage._xml_writer import XmlUsageWriter

        writer = XmlUsageWriter(name, header, number_of_records=n)
    elif name.endswith((".tsv", ".tsv.gz")):
        from airex.formats.usage._flat_writer import FlatUsageWriter

        writer = FlatUsageWriter(name, header, number_of_records=n, split_records=split_records)
    else:
        raise ValueError(f"{name}: the name must end in .xml, .xml.gz, .tsv or .tsv.gz")
    with writer:
        writer.write_all(generate_rows(n, seed=seed, works=works, header=header))
    return writer.paths
