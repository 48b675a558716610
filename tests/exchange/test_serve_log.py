"""`airex serve` says what it does: what it starts on, what it watches, each file it takes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from exchange_support import AIREX, CMO, DEV, RH1, Env, Services, licence_request, wait_for

from airex.batch import pack

TIMEOUT = 90.0  # seconds; a healthy run takes one or two


def test_serve_once_logs_its_start_with_the_broker_password_masked(embedded: Env) -> None:
    """One round of `airex serve --once` logs the exchange's folder, the database, the broker
    (its password masked) and every drop folder it watches, on standard error."""
    environ = embedded.environ(AIREX_BROKER_URL="amqp://airex:s3cret@127.0.0.1:1/airex")
    result = subprocess.run(
        [*AIREX, "serve", "--once"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "s3cret" not in result.stderr
    start = next(line for line in result.stderr.splitlines() if "airex serve:" in line)
    assert start.endswith(
        f"INFO airex serve: watching drop folders and relaying for the exchange in "
        f"{embedded.settings.home}; database {embedded.settings.database.display_url()}; "
        "broker amqp://airex:***@127.0.0.1:1/airex"
    )
    watched = sorted(re.findall(r"watching (\S+)'s drop folder (\S+)", result.stderr))
    assert watched == sorted(
        (party, str(embedded.drop(party))) for party in (CMO, DEV, RH1)
    )  # RH2 has no folder


def test_serve_logs_each_file_and_batch_it_takes(
    embedded: Env, services: Services, tmp_path: Path
) -> None:
    """A running `airex serve` logs one line per file and per batch it takes from a drop
    folder: the party, where it was dropped, the received ids."""
    log = tmp_path / "serve.log"
    services.start(embedded, ["serve"], log)
    single = embedded.drop(DEV) / "request.xml"
    single.with_suffix(".part").write_bytes(licence_request(message_id="LOG-REQ"))
    single.with_suffix(".part").rename(single)
    packed = pack(
        [licence_request(message_id="LOG-B1"), licence_request(message_id="LOG-B2")],
        tmp_path / "outbox",
        sender=DEV,
    )
    batch = embedded.drop(DEV) / packed.path.name
    packed.path.rename(batch)

    def taken() -> list[str]:
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if f"INFO {DEV}: took " in line]

    wait_for(
        lambda: len(taken()) >= 2, timeout=TIMEOUT, what="two 'took' lines", explain=log.read_text
    )
    lines = sorted((line.split(" INFO ", 1)[1] for line in taken()), key=lambda x: "batch" not in x)
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf"{DEV}: took batch {re.escape(str(batch))} \(BatchId {packed.batch_id}\): #\d+, #\d+",
        lines[0],
    ), lines
    assert re.fullmatch(rf"{DEV}: took {re.escape(str(single))}: #\d+", lines[1]), lines
