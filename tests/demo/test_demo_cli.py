"""`airex demo` as a new user meets it: tiny runs, bad database and broker URLs, Ctrl-C, and
its option names (the real command in a subprocess, on the embedded default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}


def _demo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airex", "demo", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("records", [1, 7])
def test_a_demo_of_a_few_records_completes(tmp_path: Path, records: int) -> None:
    """Any N >= 1 plays the whole cycle (fewer than 20 records used to crash packing an empty
    batch for the rightsholder who had no work)."""
    folder = tmp_path / "run"
    run = _demo("-n", str(records), "--out", str(folder))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✓ payment and royalties" in run.stdout + run.stderr
    assert "ledger check: OK" in run.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("garbage", "malformed"),
        ("mysql://someone@127.0.0.1/airex", "not supported"),
        ("postgresql://postgres@127.0.0.1:1/airex_demo", "cannot use the database"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, url: str, expected: str
) -> None:
    """A bad --database says why in one line, exits 2, and leaves no folder behind."""
    folder = tmp_path / "run"
    run = _demo("-n", "10", "--out", str(folder), "--database", url, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("airex: demo: ")
    assert expected in lines[0]
    assert "Traceback" not in run.stdout + run.stderr
    assert not folder.exists()


def test_the_old_option_names_are_hidden_aliases(tmp_path: Path) -> None:
    """--database and --broker are shown; --database-url and --broker-url still work, unshown."""
    shown = _demo("--help", timeout=120)
    assert shown.returncode == 0
    assert "--database" in shown.stdout
    assert "--broker" in shown.stdout
    assert "--database-url" not in shown.stdout
    assert "--broker-url" not in shown.stdout
    folder = tmp_path / "run"
    run = _demo("-n", "10", "--out", str(folder), "--database-url", "garbage", timeout=120)
    assert run.returncode == 2
    assert "malformed" in run.stderr
    assert not folder.exists()


def test_a_broker_that_is_down_is_said_at_once(tmp_path: Path) -> None:
    """A broker nobody answers on: one line naming it (password masked), exit 2 (an
    environment error, as for a database), no folder and no "everything in" announcement (the
    check is bounded by connection timeouts, not by the 600 s a step may take)."""
    folder = tmp_path / "run"
    url = "amqp://guest:s3cret@127.0.0.1:1//"
    run = _demo("-n", "10", "--out", str(folder), "--broker", url, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "everything in" not in run.stdout
    assert "cannot reach the broker amqp://guest:**@127.0.0.1:1//" in run.stderr
    assert "s3cret" not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert not folder.exists()


def test_an_out_folder_that_cannot_be_used_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """--out naming a file, a non-empty folder, or a place no folder can be made: one line,
    exit 2, no traceback, nothing made, nothing announced."""
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    cases = {
        a_file: "cannot write there: it is a file, not a folder",
        Path("/dev/null"): "cannot write there: it is a file, not a folder",
        full: "is not empty",
        a_file / "sub": "cannot write there",
        Path("/proc/airex-demo-here"): "cannot write there",
    }
    for out, expected in cases.items():
        run = _demo("-n", "10", "--out", str(out), timeout=120)
        assert run.returncode == 2, (out, run.stdout + run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, (out, run.stderr)
        assert expected in lines[0], (out, run.stderr)
        assert "Traceback" not in run.stdout + run.stderr
        assert "everything in" not in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "full"]
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is ``folder`` (the demo's workers and watcher)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
def test_ctrl_c_says_what_was_done_and_stops_the_processes(tmp_path: Path) -> None:
    """Ctrl-C after the declarations: exit 130, the last completed step and the folder are
    named, and no process of the demo is left running."""
    folder = (tmp_path / "run").resolve()
    process = subprocess.Popen(
        [sys.executable, "-m", "airex", "demo", "-n", "1500", "--out", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "✓ declarations" in line:
                break
        else:
            pytest.fail("the demo ended before its declarations: " + "".join(seen))
        process.send_signal(signal.SIGINT)
        _, rest_err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, "".join(seen) + rest_err
    assert "interrupted after the step 'declarations'" in rest_err
    assert str(folder) in rest_err
    assert _processes_in(folder) == []
    assert (folder / "logs" / "worker.log").exists()
