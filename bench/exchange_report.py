"""One big usage report through the whole exchange, against ``airex royalties invoice``.

    python bench/exchange.py --report 1000000                 # one XML report
    python bench/exchange.py --report 10000000 --form flat    # a split .tsv.gz report

In one run, on the same generated report and the same database state:

1. **set-up**: ``airex demo``'s cycle up to the licence (its parties, the works declared
   through the exchange, the licence granted), on the embedded default, then stopped;
2. **the baseline**: ``airex royalties invoice`` on the report's file(s) and a copy of that
   database: read, priced, the invoice stored and posted, written to a folder;
3. **the exchange**: ``airex worker`` (``--concurrency``) and ``airex serve`` started and
   ready; the timer starts when the report's file(s) are moved into the developer's drop
   folder (parts one by one) and stops when both the invoice and the acknowledgement are
   in the developer's inbox: taken → stored → validated → priced → invoice delivered →
   acknowledgement delivered.

Printed: both times, their ratio, and the peak resident memory of the largest process of
each (the worker's from ``VmHWM`` of every process of its tree, read before it stops).
The issue's targets: ≤ 1.3 × for a 1 M-record XML report, ≤ 1.2 × for a 10 M-record flat
report, the worker's peak ≤ 1 GB at both.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from airex.demo import TIMELINE, Scenario, run_demo, write_report
from airex.exchange.settings import write_clock

__all__ = ["bench_report"]


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _peak_mb(pids: list[int]) -> float:
    """The largest ``VmHWM`` (peak resident set) among ``pids``, in MB."""
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def _copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as old, sqlite3.connect(target) as new:
        old.backup(new)


_MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - start
print(code, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _baseline(
    env: dict[str, str], files: list[Path], database: Path, out: Path
) -> tuple[float, float]:
    """``airex royalties invoice`` on ``files``: seconds and the peak memory (MB) of the
    largest process (the command, or one of its pricing processes). It is started by a small
    process of its own: a child's ``ru_maxrss`` would otherwise include this process's memory
    (the demo's scenario, gigabytes at 10 M records), shared with it until the exec."""
    command = [sys.executable, "-m", "airex", "royalties", "invoice", *map(str, files)]
    command += ["--out", str(out), "--database", f"sqlite:///{database}"]
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    code, seconds, peak_kib = result.stdout.split()
    if code != "0":
        raise SystemExit(f"the baseline failed: {' '.join(command)}")
    return float(seconds), int(peak_kib) / 1024


def _inbox_has(inbox: Path, message_id: str) -> bool:
    if not any(inbox.glob(f"ACK_{message_id}*.xml")):
        return False
    for path in inbox.glob("*.xml"):
        if path.name.startswith("ACK_"):
            continue
        with path.open("rb") as handle:
            if b"<InvoiceMessage" in handle.read(512):
                return True
    return False


def _exchange(
    env: dict[str, str], files: list[Path], home: Path, developer: str, message_id: str, logs: Path
) -> tuple[float, float, float]:
    """The report through a running exchange: seconds, the worker's peak and serve's (MB)."""
    logs.mkdir(parents=True, exist_ok=True)
    worker_log = logs / "worker.log"
    processes = []
    for name, args in (
        ("worker", ["worker", "--concurrency", env["BENCH_CONCURRENCY"], "--loglevel", "INFO"]),
        ("serve", ["serve"]),
    ):
        with (logs / f"{name}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "airex", *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    worker, serve = processes
    try:
        deadline = time.monotonic() + 120
        while b" ready." not in worker_log.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start; see {worker_log}")
            time.sleep(0.1)
        drop = home / "parties" / developer / "drop"
        inbox = home / "parties" / developer / "inbox"
        start = time.perf_counter()
        for path in files:
            os.replace(path, drop / path.name)
        deadline = time.monotonic() + 3600
        while not _inbox_has(inbox, message_id):
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"an exchange process stopped; see {logs}")
            if time.monotonic() > deadline:
                raise SystemExit(f"no invoice and acknowledgement after an hour; see {logs}")
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        return seconds, _peak_mb(_tree(worker.pid)), _peak_mb(_tree(serve.pid))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def bench_report(records: int, form: str, concurrency: int, work: Path) -> None:
    """Set up, run the baseline and the exchange on one generated report, print the figures."""
    print(f"set-up: the demo's cycle up to the licence, {records:,} records' works …", flush=True)
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        result = run_demo(work / "demo", records=records, stream=quiet, stop_after_licence=True)
    print(f"  {time.perf_counter() - start:.1f} s; licence {result.licence_id}", flush=True)
    scenario = Scenario(records)
    developer = scenario.cast.developer.party_id
    message_id = scenario.usage_header(result.licence_id).message_header.message_id
    env = dict(result.environment, BENCH_CONCURRENCY=str(concurrency))
    write_clock(Path(env["AIREX_CLOCK_FILE"]), TIMELINE["usage report"])

    start = time.perf_counter()
    staging = work / "staging"
    staging.mkdir()
    files = write_report(scenario, result.licence_id, staging, "flat" if form == "flat" else "xml")
    size = sum(path.stat().st_size for path in files) / 1e6
    print(
        f"report: {records:,} records, {form}, {len(files)} file(s), {size:,.0f} MB "
        f"(written in {time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    database = work / "demo" / "airex.db"
    baseline_db = work / "baseline.db"
    _copy_database(database, baseline_db)
    base_seconds, base_peak = _baseline(env, files, baseline_db, work / "baseline-out")
    print(
        f"  baseline (airex royalties invoice): {base_seconds:8.1f} s   peak {base_peak:6.0f} MB",
        flush=True,
    )
    baseline_db.unlink()
    shutil.rmtree(work / "baseline-out")
    seconds, worker_peak, serve_peak = _exchange(
        env, files, work / "demo" / "exchange", developer, message_id, work / "logs"
    )
    target = "1.2" if form == "flat" else "1.3"
    print(
        f"  exchange, drop → invoice and ACK:   {seconds:8.1f} s   worker peak {worker_peak:6.0f} MB"
        f"   serve peak {serve_peak:6.0f} MB"
    )
    print(f"  exchange / baseline: {seconds / base_seconds:.2f}   (target <= {target})")
