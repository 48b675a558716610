"""The `airex usage` commands: generate, stats, convert, on real files, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from airex.cli import app

AIREX = str(Path(sys.executable).with_name("airex"))
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "usage-report"


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 000-record synthetic XML report, made once through the real console script."""
    path = tmp_path_factory.mktemp("usage") / "q2.xml"
    done = subprocess.run(
        [AIREX, "usage", "generate", "--records", "5000", "--seed", "7", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "5000 records written" in done.stderr
    return path


def test_stats_json_has_the_documented_shape(report: Path) -> None:
    """--json prints records, distinct works, totals per use type and unit, and no errors."""
    result = run("usage", "stats", "--json", report)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert set(stats) == {"records", "distinct_works", "totals", "errors"}
    assert stats["records"] == 5000
    assert 0 < stats["distinct_works"] <= 5000
    assert stats["errors"] == []
    assert all(set(t) == {"use_type", "unit", "quantity"} for t in stats["totals"])


def test_stats_is_the_same_for_both_forms_and_split_files(report: Path, tmp_path: Path) -> None:
    """Converting to split gzip flat files and back changes no figure of the statistics."""
    flat = tmp_path / "q2.tsv.gz"
    converted = run("usage", "convert", "--split", "2000", report, flat)
    assert converted.exit_code == 0, converted.output
    parts = sorted(tmp_path.glob("q2_*of3.tsv.gz"))
    assert [p.name for p in parts] == ["q2_1of3.tsv.gz", "q2_2of3.tsv.gz", "q2_3of3.tsv.gz"]
    assert "cannot carry" in converted.stderr  # what the flat form loses is said, not hidden
    back = tmp_path / "back.xml"
    assert run("usage", "convert", parts[1], back).exit_code == 0  # any part finds the others
    original = json.loads(run("usage", "stats", "--json", report).stdout)
    for again in (parts[0], back):
        assert json.loads(run("usage", "stats", "--json", again).stdout) == original
    assert run("validate", back).exit_code == 0


def test_stats_text_names_the_report_and_its_totals(report: Path) -> None:
    """Without --json, stats prints the report, licence, record and work counts and totals."""
    result = run("usage", "stats", report)
    assert result.exit_code == 0
    assert re.search(r"^report \S+ under licence \S+, ", result.stdout, flags=re.M)
    assert "records: 5000" in result.stdout
    assert "UseForTrainingGenerativeAI" in result.stdout


def test_stats_of_an_invalid_report_lists_errors_with_file_and_line(tmp_path: Path) -> None:
    """A bad ISRC and a wrong NumberOfRecords are both reported, file:line: CODE, exit 1."""
    xml = (SAMPLE / "music-cadenza-q1-2026.xml").read_bytes()
    isrc = re.search(rb'<WorkId Type="ISRC">(\w+)</WorkId>', xml)
    assert isrc is not None
    broken = xml.replace(isrc.group(0), b'<WorkId Type="ISRC">XX-BAD</WorkId>', 1)
    broken = broken.replace(b"<NumberOfRecords>12<", b"<NumberOfRecords>13<")
    path = tmp_path / "broken.xml"
    path.write_bytes(broken)
    result = run("usage", "stats", path)
    assert result.exit_code == 1
    codes = re.findall(rf"^{re.escape(str(path))}(?::\d+)?: (\w+)", result.stdout, flags=re.M)
    assert codes == ["InvalidISRC", "RecordCountMismatch"]
    assert re.search(rf"^{re.escape(str(path))}:\d+: InvalidISRC ", result.stdout, flags=re.M)
    assert "records: 11" in result.stdout  # the bad record is not counted


def test_convert_refuses_an_invalid_report_and_writes_nothing(tmp_path: Path) -> None:
    """An invalid input gives exit 1, its errors, and no output file at all."""
    xml = (SAMPLE / "music-cadenza-q1-2026.xml").read_bytes()
    path = tmp_path / "broken.xml"
    path.write_bytes(xml.replace(b"<NumberOfRecords>12<", b"<NumberOfRecords>99<"))
    out = tmp_path / "out.tsv"
    result = run("usage", "convert", path, out)
    assert result.exit_code == 1
    assert "RecordCountMismatch" in result.stdout
    assert list(tmp_path.iterdir()) == [path]


def test_usage_errors_exit_2_naming_the_problem(tmp_path: Path) -> None:
    """A missing file, or an output name that says no form, is a usage error."""
    missing = run("usage", "stats", tmp_path / "nowhere.xml")
    assert missing.exit_code == 2
    assert "nowhere.xml" in missing.output
    report = tmp_path / "r.xml"
    assert run("usage", "generate", "-n", "10", report).exit_code == 0
    bad_target = run("usage", "convert", report, tmp_path / "r.csv")
    assert bad_target.exit_code == 2
    assert ".tsv" in bad_target.output


def test_usage_help_teaches_with_examples() -> None:
    """Each usage command's --help shows an example."""
    for command in ("stats", "convert", "generate"):
        result = run("usage", command, "--help")
        assert result.exit_code == 0
        assert "Examples:" in result.output
        assert f"airex usage {command}" in result.output
