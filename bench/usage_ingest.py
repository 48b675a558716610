"""Benchmark: reading huge usage reports, against raw lxml on the same files in the same run.

    python bench/usage_ingest.py                       # 1 M and 5 M records (several minutes)
    python bench/usage_ingest.py --sizes 200000        # a quick look

For each size it generates one synthetic report in both forms (XML and flat file, the same
records; generated files go to a temporary folder, removed at the end unless --keep), then runs,
each in its own process so that peak memory is that process's alone:

* baseline — raw ``lxml.etree.iterparse`` with the standard's XSD, extracting every record's
  fields and clearing elements as it goes (the cheapest correct streaming read lxml offers);
* airex XML reader — :class:`airex.formats.usage.XmlUsageReader` (hardened parser, XSD,
  identifier checks, record objects);
* airex flat-file reader — :class:`airex.formats.usage.FlatUsageReader` on the flat file;
* ``airex usage stats`` on the XML file, the whole process, timed against the whole baseline
  process.

It prints throughput, the ratios the issue sets targets for, and peak resident memory.
Targets: XML reader ≥ 0.8 × baseline; flat reader ≥ 2 × baseline; peak RSS ≤ 64 MB at every
size; ``airex usage stats`` within 1.5 × the baseline's whole-process time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = r"""
import sys, time
from importlib import resources
from lxml import etree
NS = "{urn:airex:xml:1}"
with resources.as_file(resources.files("airex.schemas") / "airex.xsd") as xsd:
    schema = etree.XMLSchema(etree.parse(str(xsd)))
WORK_ID, USE, QTY, SHARE, MODEL = (NS + n for n in ("WorkId", "UseType", "Quantity",
                                                    "AttributionShare", "ModelId"))
start = time.perf_counter()
count = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), tag=NS + "UsageRecord",
                             schema=schema, resolve_entities=False, no_network=True):
    ids = []
    use = qty = unit = share = model = None
    for child in el:
        tag = child.tag
        if tag == WORK_ID:
            ids.append((child.get("Type"), child.text, child.get("Namespace")))
        elif tag == USE:
            use = child.text
        elif tag == QTY:
            qty = child.text
            unit = child.get("Unit")
        elif tag == SHARE:
            share = child.text
        elif tag == MODEL:
            model = child.text
    count += 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
print(count, time.perf_counter() - start)
"""

AIREX_READER = r"""
import sys, time
from airex.formats.usage import open_report
reader = open_report(sys.argv[1:])
reader.header
start = time.perf_counter()
count = 0
for row in reader:
    count += 1
print(count, time.perf_counter() - start)
"""


# Peak resident memory of this address space: VmHWM, reset by exec (unlike getrusage's
# ru_maxrss, which Linux carries over from the forking parent across exec).
_PEAK = (
    "print(next(int(l.split()[1]) / 1024 for l in open('/proc/self/status') "
    "if l.startswith('VmHWM:')))"
)


def _run(argv: list[str]) -> tuple[str, float]:
    """Run ``argv``; its stdout and wall seconds (each measured program prints its own peak)."""
    start = time.perf_counter()
    process = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if process.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed ({process.returncode}):\n{process.stderr.decode()}")
    return process.stdout.decode(), wall


def _measured(code: str, *args: str) -> tuple[int, float, float, float]:
    """Run Python ``code`` with ``args``: records, inner seconds, wall seconds, peak RSS MB."""
    wrapper = (
        "import sys\n"
        f"sys.argv = ['bench'] + {list(args)!r}\n"
        f"exec(compile({code!r}, 'bench', 'exec'))\n"
        f"{_PEAK}\n"
    )
    out, wall = _run([sys.executable, "-c", wrapper])
    first, peak = out.strip().splitlines()[-2:]
    records, seconds = first.split()
    return int(records), float(seconds), wall, float(peak)


def _stats_process(path: str) -> tuple[float, float, dict[str, object]]:
    """``airex usage stats --json`` as a whole process: wall seconds, peak RSS MB, its JSON."""
    airex = Path(sys.executable).with_name("airex")
    # /proc/<pid>/status of the airex process itself, read just before it exits, via a
    # Python start-up hook would change what is measured; instead poll VmHWM while it runs.
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(airex), "usage", "stats", "--json", path], stdout=subprocess.PIPE
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _vm_hwm(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out = process.stdout.read().decode() if process.stdout else ""
    return wall, peak, json.loads(out)


def _vm_hwm(pid: int) -> float:
    """Peak resident memory (MB) of process ``pid`` so far, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench(records: int, folder: Path) -> dict[str, float]:
    """Generate one report of ``records`` records in both forms and measure every reader."""
    from airex.formats.usage import convert, generate_report

    xml = folder / f"usage-{records}.xml"
    flat = folder / f"usage-{records}.tsv"
    started = time.perf_counter()
    generate_report(xml, records, seed=1)
    convert(xml, flat)
    print(
        f"\n{records:,} records: XML {xml.stat().st_size / 1e6:,.0f} MB, "
        f"flat {flat.stat().st_size / 1e6:,.0f} MB (generated in "
        f"{time.perf_counter() - started:,.0f} s)"
    )
    base_n, base_s, base_wall, base_rss = _measured(BASELINE, str(xml))
    xml_n, xml_s, _, xml_rss = _measured(AIREX_READER, str(xml))
    flat_n, flat_s, _, flat_rss = _measured(AIREX_READER, str(flat))
    stats_wall, stats_rss, stats = _stats_process(str(xml))
    if not base_n == xml_n == flat_n == records == stats["records"]:
        raise SystemExit(f"record counts differ: {base_n} {xml_n} {flat_n} {stats['records']}")
    figures = {
        "baseline_rps": base_n / base_s,
        "xml_rps": xml_n / xml_s,
        "flat_rps": flat_n / flat_s,
        "xml_ratio": (xml_n / xml_s) / (base_n / base_s),
        "flat_ratio": (flat_n / flat_s) / (base_n / base_s),
        "stats_ratio": stats_wall / base_wall,
        "baseline_rss": base_rss,
        "xml_rss": xml_rss,
        "flat_rss": flat_rss,
        "stats_rss": stats_rss,
    }
    rows = [
        ("baseline: lxml iterparse + XSD", figures["baseline_rps"], 1.0, base_rss, ""),
        ("airex XML reader", figures["xml_rps"], figures["xml_ratio"], xml_rss, ">= 0.8"),
        ("airex flat-file reader", figures["flat_rps"], figures["flat_ratio"], flat_rss, ">= 2"),
    ]
    print(f"  {'reader':34} {'records/s':>12} {'x baseline':>11} {'peak MB':>8}  target")
    for name, rps, ratio, rss, target in rows:
        print(f"  {name:34} {rps:12,.0f} {ratio:11.2f} {rss:8.1f}  {target}")
    print(
        f"  airex usage stats (whole process): {stats_wall:.1f} s vs baseline process "
        f"{base_wall:.1f} s = {figures['stats_ratio']:.2f} x (target <= 1.5); "
        f"peak {stats_rss:.1f} MB (the totals grow with distinct works, by design)"
    )
    return figures


def main() -> None:
    """Parse arguments, run every size, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--dir", type=Path, help="where to write the reports (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated reports")
    options = parser.parse_args()
    folder = options.dir or Path(tempfile.mkdtemp(prefix="airex-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for size in options.sizes:
            bench(size, folder)
    finally:
        if not options.keep and options.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
