"""Benchmark of the royalties cycle: price → invoice → payment → distribution → statements.

    python bench/royalties.py                      # 10 M records, 1 M works, 100 000 rightsholders
    python bench/royalties.py --records 200000     # a quick look (20 000 works by default)
    python bench/royalties.py --records 1000000 --works 100000 --rightsholders 10000

The issue's target: a 10 M-record flat-file report over 1 M works and 100 000 rightsholders
priced, distributed and its statements written in ≤ 120 s wall and ≤ 2 GB peak memory on
the 2-core machine; the plain aggregation of the same file is the baseline.

**Setup** (cached under ``bench/out/royalties/``, git-ignored; not part of the 120 s):

* the report: :func:`airex.formats.usage.generate_report` writes ``--records`` records over
  ``--works`` works as one uncompressed flat file (``.tsv``: the form a developer uploads
  for a quarter of usage, and the fastest to read; gzip costs the reader about a third more);
* a SQLite database, migrated, holding the registry of those works (the exact table the
  report draws from, :func:`~airex.formats.usage.generate_works`), owned by ``--rightsholders``
  rightsholders (work *i* → rightsholder *i* mod R; every third work co-owned 60/40 with the
  next rightsholder; about 2 % of the works left undeclared, so their usage is held as
  ``UnknownWork``), preferences opting in to the four licensed use types (1 % of the works
  opt out of data mining, 0.2 % out of generative training), loaded with
  :meth:`Registry.import_works`; and the licence in the grant register whose LicenceId,
  licensor (the CMO), licensee (the developer) and term match the report's header, Granted,
  with tariffs covering the report: PerUnit per million tokens (the training and mining use
  types), per thousand retrievals (``UseAsAIInput``), per GB of bytes (mining), and a
  quarterly MinimumGuarantee set above what the per-unit lines come to (so its shortfall line,
  shared equally over every work used, is priced and distributed too).
  ``UseForAISearchIndexing`` is not licensed: its records are held.

**Timed** — each run starts from a fresh copy of the setup database. In ONE child process
(which prices a file over 128 MiB in two halves, each in a worker process of its own, and
merges them: :mod:`airex.royalties._parallel`): price the report into an invoice
(:class:`InvoiceService`, the real registry), record a
full payment of it (:meth:`Distributor.record_payment`), distribute it (shares from the
registry, store, post in the ledger), write every rightsholder's statement
(:func:`write_statements`). The peak memory is that process's (and its own children's)
peak resident set: ``ru_maxrss`` from ``wait4`` of the process, and the sum over its process
tree sampled every 50 ms (the two would differ if a stage ran worker processes).
In another child process, the baseline: ``UsageTotals().add_all(open_report(path))``.

It prints each stage's wall and CPU time (with the kernel's part of it and the page faults:
on a virtual machine, creating 100 000 files and 1.3 GB of fresh page cache can cost
anything from 5 to 40 s of kernel time), the total, the peak memory, the ratio
total / baseline and PASS/FAIL against 120 s and 2 GB (for the full-size run), and checks
what came out: statements sum to what the distribution credited the rightsholders, one
statement per paid rightsholder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "royalties"
TARGET_SECONDS = 120.0
TARGET_BYTES = 2 * 1024**3
FULL_RECORDS = 10_000_000

TRAIN = "UseForTrainingGenerativeAI"
TRAIN_OTHER = "UseForTrainingNonGenerativeAI"
MINING = "UseForDataMining"
INPUT = "UseAsAIInput"
LICENSED = (TRAIN, TRAIN_OTHER, MINING, INPUT)
WORK_TYPES = {"ISRC": "SoundRecording", "ISWC": "MusicalWork", "ISBN": "Text"}


# --- setup ----------------------------------------------------------------------------------


def _names(args: argparse.Namespace) -> tuple[Path, Path]:
    """The cached report and setup database of these arguments."""
    tag = f"{args.records}-{args.works}-{args.seed}"
    report = OUT / f"report-{tag}.tsv"
    database = OUT / f"setup-{tag}-{args.rightsholders}.db"
    return report, database


def _ready(path: Path) -> bool:
    return path.exists() and path.with_name(path.name + ".done").exists()


def _mark(path: Path, seconds: float) -> None:
    path.with_name(path.name + ".done").write_text(f"{seconds:.1f} s\n")


def make_report(args: argparse.Namespace, path: Path) -> None:
    """Generate the flat-file report (cached)."""
    from airex.formats.usage import generate_report

    if _ready(path):
        print(f"report     cached  {path.name} ({path.stat().st_size / 2**20:,.0f} MB)")
        return
    started = time.perf_counter()
    generate_report(path, args.records, works=args.works, seed=args.seed)
    elapsed = time.perf_counter() - started
    _mark(path, elapsed)
    print(
        f"report     {elapsed:7.1f} s  {path.name} ({path.stat().st_size / 2**20:,.0f} MB, "
        f"{args.records:,} records over {args.works:,} works)"
    )


def declared_works(args: argparse.Namespace) -> Iterator[Any]:
    """The registry's works: the report's works table, owned and opted in as described."""
    from airex.formats.usage import generate_works, synthetic_header
    from airex.registry import DeclaredWork, Preference, Share

    header = synthetic_header(args.records, seed=args.seed)
    table = generate_works(args.records, seed=args.seed, works=args.works, header=header)
    rng = random.Random(f"bench-royalties-{args.seed}")
    parties = [f"PADPIDA2026RH{i:06d}" for i in range(args.rightsholders)]
    opt_in = tuple(Preference(use, "OptIn") for use in LICENSED)
    no_mining = (*(p for p in opt_in if p.use_type != MINING), Preference(MINING, "OptOut"))
    no_training = (*(p for p in opt_in if p.use_type != TRAIN), Preference(TRAIN, "OptOut"))
    sixty, forty, whole = Decimal(60), Decimal(40), Decimal(100)
    count = len(parties)
    for i, refs in enumerate(table):
        draw = rng.random()
        if draw < 0.02:
            continue  # undeclared: the report's usage of it is held as UnknownWork
        owner = parties[i % count]
        if i % 3 == 0 and count > 1:
            shares: tuple[Share, ...] = (
                Share(owner, sixty),
                Share(parties[(i + 1) % count], forty),
            )
        else:
            shares = (Share(owner, whole),)
        preferences = opt_in
        if draw < 0.03:
            preferences = no_mining
        elif draw < 0.032:
            preferences = no_training
        yield DeclaredWork(
            work_ids=[(ref.type, ref.value, ref.namespace) for ref in refs],
            title=f"Work {i}",
            work_type=WORK_TYPES.get(refs[0].type, "Other"),
            shares=shares,
            preferences=preferences,
        )


def licence_message(args: argparse.Namespace, per_unit_guess: Decimal) -> Any:
    """The LicenceMessage (Granted) the report is made under."""
    from airex.formats.usage import synthetic_header
    from airex.messages.codes import (
        BillingPeriod,
        LicenceStatus,
        ReportFormat,
        ReportingFrequency,
        TariffType,
        Unit,
        UseType,
    )
    from airex.messages.common import Amount, MessageHeader, Party, Territory
    from airex.messages.licence import Licence, LicenceMessage
    from airex.messages.terms import LicenceTerms, Repertoire, ReportingObligation, Tariff, Term

    header = synthetic_header(args.records, seed=args.seed)
    licensor = header.message_header.message_recipients[0].party_id
    licensee = header.message_header.message_sender.party_id

    def per_unit(tariff_id: str, amount: str, unit: str, per: int, *uses: str) -> Tariff:
        return Tariff(
            tariff_id=tariff_id,
            tariff_type=TariffType.PER_UNIT,
            use_types=[UseType(use) for use in uses],
            amount=Amount.of(amount, "EUR"),
            unit=Unit(unit),
            per_quantity=per,
        )

    terms = LicenceTerms(
        repertoire=Repertoire.all_works(),
        permitted_use_types=[UseType(use) for use in LICENSED],
        territory=Territory(territory_codes=["Worldwide"]),
        term=Term(start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)),
        tariffs=[
            per_unit("T-TOKENS", "0.0025", "Token", 1_000_000, TRAIN, TRAIN_OTHER, MINING),
            per_unit("T-RETRIEVALS", "0.05", "Retrieval", 1_000, INPUT),
            per_unit("T-BYTES", "0.001", "Byte", 1_000_000_000, MINING),
            Tariff(
                tariff_id="T-MG",
                tariff_type=TariffType.MINIMUM_GUARANTEE,
                use_types=[UseType(use) for use in LICENSED],
                amount=Amount.of(per_unit_guess, "EUR"),
                billing_period=BillingPeriod.QUARTERLY,
            ),
        ],
        reporting_obligation=ReportingObligation(
            frequency=ReportingFrequency.QUARTERLY,
            due_days=30,
            report_formats=[ReportFormat.XML, ReportFormat.FLAT_FILE],
        ),
    )
    return LicenceMessage(
        message_header=MessageHeader.build(licensor, licensee),
        licence=Licence(
            licence_id=header.licence_id,
            licensor=Party(party_id=licensor),
            licensee=Party(party_id=licensee),
            licence_status=LicenceStatus.GRANTED,
            issued_date_time=datetime(2025, 12, 12, 9, 0, tzinfo=UTC),
            licence_terms=terms,
        ),
    )


def record_licence(engine: Any, message: Any) -> None:
    """Record the licence in the grant register, with its bytes (the terms are read back)."""
    from airex.ledger import GrantRecord, GrantRegister
    from airex.messages import serialise

    licence = message.licence
    terms = licence.licence_terms
    GrantRegister(engine).record(
        GrantRecord(
            licence_id=licence.licence_id,
            status=str(licence.licence_status),
            licensor=licence.licensor.party_id,
            licensee=licence.licensee.party_id,
            issued_at=licence.issued_date_time,
            term_start=terms.term.start_date,
            term_end=terms.term.end_date,
            use_types=[str(u) for u in terms.permitted_use_types],
            all_works=True,
            territories=list(terms.territory.territory_codes),
            source_message_id=f"{licence.licensor.party_id}:{message.message_id}",
            source_message=serialise(message),
        )
    )


def make_database(args: argparse.Namespace, path: Path) -> None:
    """Migrate a SQLite database, import the registry, record the licence (cached)."""
    from airex.db import DatabaseConfig, create_engine, schema_histories
    from airex.registry import Registry

    if _ready(path):
        print(f"database   cached  {path.name} ({path.stat().st_size / 2**20:,.0f} MB)")
        return
    path.unlink(missing_ok=True)
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{path}", sqlite_synchronous="NORMAL"))
    for history in schema_histories():
        history.upgrade(engine)
    started = time.perf_counter()
    result = Registry(engine).import_works(
        declared_works(args),
        declared_by=_cmo(args),
        source=f"bench-catalogue-{args.seed}",
        effective_from=date(2025, 12, 1),
    )
    elapsed = time.perf_counter() - started
    # The guarantee: about 1.5 × what the per-unit lines come to (measured on this data: the
    # per-unit lines price about EUR 0.032 a record), so that the shortfall line is priced.
    guarantee = Decimal(max(1_000, round(args.records * 0.048))).quantize(Decimal("0.01"))
    record_licence(engine, licence_message(args, guarantee))
    engine.dispose()
    _mark(path, elapsed)
    print(
        f"registry   {elapsed:7.1f} s  {result.new_works:,} works imported "
        f"({result.new_works / elapsed:,.0f} works/s; not part of the timed run)"
    )


def _cmo(args: argparse.Namespace) -> str:
    from airex.formats.usage import synthetic_header

    return (
        synthetic_header(args.records, seed=args.seed).message_header.message_recipients[0].party_id
    )


# --- the timed child processes ----------------------------------------------------------------


def _stage(stages: list[dict[str, Any]], name: str, run: Callable[[], Any]) -> Any:
    """Run one stage, recording its wall and CPU time (of which in the kernel: system calls
    and page faults, e.g. creating files), its minor page faults and the RSS after it. CPU
    and page faults count the stage's worker processes too (pricing in parts)."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    value = run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime + after_children.ru_utime - before_children.ru_utime
    system = after.ru_stime - before.ru_stime + after_children.ru_stime - before_children.ru_stime
    stages.append(
        {
            "stage": name,
            "wall": time.perf_counter() - started,
            "cpu": user + system,
            "sys": system,
            "faults": after.ru_minflt
            - before.ru_minflt
            + after_children.ru_minflt
            - before_children.ru_minflt,
            "rss_mb": _rss_mb(),
        }
    )
    print(_stage_line(stages[-1]), file=sys.stderr, flush=True)  # progress (JSON on stdout)
    return value


def _stage_line(stage: dict[str, Any]) -> str:
    return (
        f"{stage['stage']:<18}{stage['wall']:8.1f}s{stage['cpu']:8.1f}s{stage['sys']:8.1f}s"
        f"{stage['faults']:>12,}{stage['rss_mb']:9,.0f} MB"
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_cycle(report: Path, database: Path, statements: Path) -> dict[str, Any]:
    """The timed cycle (in its own process): price, pay, distribute, write statements."""
    began = time.perf_counter()  # the imports count
    from airex.db import DatabaseConfig, create_engine
    from airex.formats.usage import open_report
    from airex.messages import PaymentNotificationMessage
    from airex.messages.codes import DocumentType
    from airex.messages.common import Amount, MessageHeader, Party
    from airex.messages.payment import Payment, SettledDocument
    from airex.registry import Registry, RegistrySettings
    from airex.royalties import InvoiceService, RoyaltySettings
    from airex.royalties.distribution import DistributionSettings, Distributor, PeriodSpec
    from airex.royalties.statements import write_statements

    stages: list[dict[str, Any]] = []
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{database}"))
    reader = open_report(report)
    header = reader.header
    today = header.reporting_period.end_date + timedelta(days=20)
    settings = RoyaltySettings(cmo_party_id=None, admin_fee_percent=Decimal(15))
    service = InvoiceService(engine, settings, Registry(engine, RegistrySettings()))
    priced = _stage(stages, "price → invoice", lambda: service.invoice(reader, today=today))
    invoice = priced.invoice
    assert invoice is not None, "the report priced to nothing"
    paid_on = today + timedelta(days=10)
    message = PaymentNotificationMessage(
        message_header=MessageHeader.build(invoice.licensee, invoice.licensor),
        payment=Payment(
            payment_id=f"PAY-{invoice.invoice_id}",
            payer=Party(party_id=invoice.licensee),
            payee=Party(party_id=invoice.licensor),
            paid_amount=Amount.of(invoice.total, invoice.currency),
            payment_date=paid_on,
            settled_documents=[
                SettledDocument(
                    document_type=DocumentType.INVOICE,
                    document_id=invoice.invoice_id,
                    applied_amount=Amount.of(invoice.total, invoice.currency),
                )
            ],
        ),
    )
    distributor = Distributor(engine, DistributionSettings(admin_fee_percent=Decimal(15)))
    _stage(stages, "record payment", lambda: distributor.record_payment(message, distribute=False))
    quarter = f"{paid_on.year}-Q{(paid_on.month - 1) // 3 + 1}"
    period = PeriodSpec.parse(quarter)
    (summary,) = _stage(stages, "distribute", lambda: distributor.distribute_pending(period))
    written = _stage(
        stages,
        "statements",
        lambda: write_statements(
            engine,
            period,
            statements,
            created=datetime.combine(paid_on, clock(12), UTC),
        ),
    )
    total = time.perf_counter() - began
    engine.dispose()
    return {
        "stages": stages,
        "total": total,
        "records": priced.records,
        "pricing": service.last_pricing,
        "held": priced.held_records,
        "held_by_reason": priced.held_by_reason,
        "invoice": invoice.invoice_id,
        "invoice_total": f"{invoice.total} {invoice.currency}",
        "lines": [(line.tariff_id, line.amount_minor, line.basis_rows) for line in priced.lines],
        "paid_minor": summary.paid_minor,
        "net_minor": summary.net_minor,
        "fee_minor": summary.fee_minor,
        "suspense_minor": summary.suspense_minor,
        "parties": summary.parties,
        "distribution_lines": summary.lines,
        "statements": written.count,
        "statement_lines": written.lines,
        "statement_net_minor": written.net_minor.get(invoice.currency, 0),
        "statement_bytes": sum(p.stat().st_size for p in written.paths),
        "period": quarter,
    }


def child_baseline(report: Path) -> dict[str, Any]:
    """The baseline (in its own process): plain aggregation of the same file."""
    from airex.formats.usage import UsageTotals, open_report

    started, cpu = time.perf_counter(), time.process_time()
    totals = UsageTotals()
    totals.add_all(open_report(report))
    return {
        "total": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "records": totals.records,
    }


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants every 50 ms (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._halt = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    def _sample(self) -> int:
        total = 0
        for pid in self._tree():
            try:
                with open(f"/proc/{pid}/statm") as statm:
                    total += int(statm.read().split()[1]) * self._page
            except OSError:
                continue
        return total

    def run(self) -> None:
        """Sample until stopped."""
        while not self._halt.wait(0.05):
            self.peak = max(self.peak, self._sample())

    def stop(self) -> None:
        """Stop sampling."""
        self._halt.set()
        self.join()


def run_child(arguments: list[str]) -> tuple[dict[str, Any], int, int]:
    """Run this script as a child; return its result, its ``ru_maxrss`` (bytes) and the
    sampled peak of its process tree's summed RSS (bytes)."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *arguments], stdout=subprocess.PIPE
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    if process.returncode:
        raise SystemExit(f"the child {arguments[:2]} failed with status {process.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    return result, usage.ru_maxrss * 1024, sampler.peak


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    """Parse the options, set up (cached), run the timed children, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=FULL_RECORDS)
    parser.add_argument("--works", type=int, help="distinct works (default: records / 10)")
    parser.add_argument("--rightsholders", type=int, help="default: works / 10, at most 100 000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's database and statements"
    )
    parser.add_argument("--child", choices=("cycle", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "cycle":
        report, database, statements = (Path(p) for p in args.paths)
        print(json.dumps(child_cycle(report, database, statements)))
        return 0
    if args.child == "baseline":
        print(json.dumps(child_baseline(Path(args.paths[0]))))
        return 0

    if args.works is None:
        args.works = max(1, min(args.records // 10, 1_000_000))
    if args.rightsholders is None:
        args.rightsholders = max(1, min(args.works // 10, 100_000))
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"== royalties: {args.records:,} records, {args.works:,} works, "
        f"{args.rightsholders:,} rightsholders, seed {args.seed}; load {_load()}"
    )
    report, setup = _names(args)
    make_report(args, report)
    make_database(args, setup)

    run_db = OUT / "run.db"
    statements = OUT / "statements"
    for leftover in (run_db, run_db.with_name("run.db-wal"), run_db.with_name("run.db-shm")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(statements, ignore_errors=True)
    shutil.copyfile(setup, run_db)

    load_before = _load()
    cycle, maxrss, tree_peak = run_child(
        ["--child", "cycle", "--paths", str(report), str(run_db), str(statements)]
    )
    load_after = _load()
    baseline, base_rss, _ = run_child(["--child", "baseline", "--paths", str(report)])

    print(f"\nload average before / after the timed run: {load_before} / {load_after}")
    print(f"{'stage':<18}{'wall':>9}{'CPU':>9}{'kernel':>9}{'page faults':>12}{'RSS after':>12}")
    for stage in cycle["stages"]:
        print(_stage_line(stage))
    total = cycle["total"]
    peak = max(maxrss, tree_peak)
    print(f"{'total':<18}{total:8.1f}s")
    print(
        f"peak memory       {maxrss / 2**20:,.0f} MB (ru_maxrss), "
        f"{tree_peak / 2**20:,.0f} MB (process tree, sampled)"
    )
    print(
        f"baseline          {baseline['total']:8.1f}s (CPU {baseline['cpu']:.1f} s, "
        f"{base_rss / 2**20:,.0f} MB): UsageTotals over {baseline['records']:,} records"
    )
    print(f"ratio total / baseline  {total / baseline['total']:.2f}")
    print(
        f"\nrecords {cycle['records']:,} (priced {cycle['pricing']}), held {cycle['held']:,} "
        f"{cycle['held_by_reason']}\n"
        f"invoice {cycle['invoice']}: {cycle['invoice_total']}; lines (tariff, minor, basis "
        f"rows) {cycle['lines']}\n"
        f"distributed {cycle['paid_minor']:,} minor: net {cycle['net_minor']:,}, fee "
        f"{cycle['fee_minor']:,}, suspense {cycle['suspense_minor']:,}; "
        f"{cycle['parties']:,} rightsholders, {cycle['distribution_lines']:,} lines\n"
        f"statements {cycle['statements']:,} ({cycle['statement_lines']:,} lines, "
        f"{cycle['statement_bytes'] / 2**20:,.0f} MB) for {cycle['period']}"
    )
    consistent = (
        cycle["statement_net_minor"] == cycle["net_minor"]
        and cycle["statements"] == cycle["parties"]
        and cycle["net_minor"] + cycle["fee_minor"] + cycle["suspense_minor"] == cycle["paid_minor"]
    )
    print(f"statements agree with the distribution: {'yes' if consistent else 'NO'}")
    if not args.keep:
        shutil.rmtree(statements, ignore_errors=True)
        for leftover in (run_db, run_db.with_name("run.db-wal"), run_db.with_name("run.db-shm")):
            leftover.unlink(missing_ok=True)
    full = (args.records, args.works, args.rightsholders) == (FULL_RECORDS, 1_000_000, 100_000)
    verdict = total <= TARGET_SECONDS and peak <= TARGET_BYTES
    label = "PASS" if verdict else "FAIL"
    if not full:
        label += " (not the full-size run: the target is for 10 M / 1 M / 100 000)"
    print(
        f"\n{label}: {total:.1f} s (target ≤ {TARGET_SECONDS:.0f} s), peak "
        f"{peak / 2**30:.2f} GB (target ≤ {TARGET_BYTES / 2**30:.0f} GB)"
    )
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
