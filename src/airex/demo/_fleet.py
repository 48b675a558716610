"""The demo's machinery: the exchange's processes, the parties' folders, waiting for answers.

:class:`Fleet` starts ``airex worker`` and ``airex serve`` as separate processes (their own
session, so that a Ctrl-C in the terminal reaches the demo only, which then stops them), each
logging into ``logs/`` of the demo's folder. :class:`Party` is one party's drop folder and
inbox. :func:`wait_for` polls until an answer arrives, a process stops, or the step times out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from airex.errors import AirexError

__all__ = [
    "STEP_TIMEOUT",
    "Console",
    "DemoError",
    "Fleet",
    "Party",
    "demo_env",
    "interrupt",
    "require_accepted",
    "wait_for",
]


class DemoError(AirexError, RuntimeError):
    """The demo could not complete a step (the message says which, and where to look)."""


T = TypeVar("T")

STEP_TIMEOUT = 600.0
"""Seconds to wait for one step's answers before giving up (the 100 000-record report takes
well under a minute on a laptop)."""

_POLL = 0.2


class Console:
    """Rich output when available on a terminal, plain lines otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console

        self.console = Console(file=stream, highlight=False)

    def line(self, text: str) -> None:
        self.console.print(text)

    @contextmanager
    def step(self, title: str) -> Iterator[Callable[[str], None]]:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=None),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        task = progress.add_task(title, total=None)

        def note(text: str) -> None:
            progress.update(task, description=f"{title}: {text}")

        with progress:
            yield note


def demo_env(
    folder: Path,
    cmo: str,
    database_url: str | None = None,
    broker_url: str | None = None,
    queue_prefix: str | None = None,
    clock_file: Path | None = None,
) -> dict[str, str]:
    """The environment of the demo's processes: its own database, folder, broker, queue names
    and clock, and nothing of a configured exchange's."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AIREX_"):
            del env[name]  # the demo never touches a configured production exchange
    if broker_url is not None:
        env["AIREX_BROKER_URL"] = broker_url
    if queue_prefix is not None:
        env["AIREX_QUEUE_PREFIX"] = queue_prefix
    if clock_file is not None:
        env["AIREX_CLOCK_FILE"] = str(clock_file)
    env.update(
        {
            "AIREX_DATABASE_URL": database_url or f"sqlite:///{folder / 'airex.db'}",
            "AIREX_HOME": str(folder / "exchange"),
            "AIREX_CMO_PARTY_ID": cmo,
            "AIREX_PREFERENCE_REGIME": "opt-in",
            "AIREX_ADMIN_FEE_PERCENT": "15",
            "AIREX_REDELIVER_AFTER": "30",
        }
    )
    return env


class Fleet:
    """The exchange's processes: workers and the watcher/relay, logging into the folder."""

    def __init__(self, folder: Path, env: dict[str, str], workers: int) -> None:
        self.folder = folder
        self.env = env
        self.workers = workers
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        commands = [
            ("worker", ["worker", "--concurrency", str(self.workers), "--loglevel", "INFO"]),
            ("serve", ["serve"]),
        ]
        for name, args in commands:
            log = (logs / f"{name}.log").open("ab")
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "airex", *args],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes.append((name, process, log))

    def check_alive(self) -> None:
        for name, process, _ in self.processes:
            if process.poll() is not None:
                raise DemoError(
                    f"`airex {name}` stopped with status {process.returncode}; "
                    f"see {self.folder / 'logs' / (name + '.log')}"
                )

    def stop(self) -> None:
        """Stop every process (and its children), waiting at most 30 s; a second Ctrl-C
        meanwhile does not leave them running."""
        import threading

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            for _, process, _ in self.processes:
                if process.poll() is None:
                    process.terminate()  # the main process only: Celery stops its pool itself
            deadline = time.monotonic() + 30
            for _, process, log in self.processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                log.close()
            self.processes.clear()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


class Party:
    """A party's view of the exchange: its drop folder and its inbox."""

    def __init__(self, home: Path, party_id: str, staging: Path) -> None:
        self.party_id = party_id
        self.drop = home / "parties" / party_id / "drop"
        self.inbox = home / "parties" / party_id / "inbox"
        self.staging = staging / party_id
        self.staging.mkdir(parents=True, exist_ok=True)

    def send(self, name: str, data: bytes) -> Path:
        """Leave ``data`` in the drop folder, complete or not at all (write, then rename)."""
        staged = self.staging / name
        staged.write_bytes(data)
        target = self.drop / name
        os.replace(staged, target)
        return target

    def received(self, root: str) -> list[Path]:
        """Inbox files whose root element is ``root``, oldest first."""
        found = []
        marker = f"<{root}".encode()
        for path in sorted(self.inbox.glob("*.xml"), key=lambda p: (p.stat().st_mtime, p.name)):
            with path.open("rb") as handle:
                if marker in handle.read(512):
                    found.append(path)
        return found

    def acks_for(self, prefix: str) -> list[Path]:
        return sorted(self.inbox.glob(f"ACK_{prefix}*.xml"))


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so that the exchange's processes are stopped


def wait_for(
    what: str, found: Callable[[], T | None], fleet: Fleet, note: Callable[[str], None]
) -> T:
    deadline = time.monotonic() + STEP_TIMEOUT
    started = time.monotonic()
    while True:
        result = found()
        if result is not None:
            return result
        fleet.check_alive()
        if time.monotonic() > deadline:
            raise DemoError(
                f"no answer after {STEP_TIMEOUT:g} s waiting for {what}; see "
                f"{fleet.folder / 'logs'} and `airex exchange status`"
            )
        note(f"waiting for {what} ({time.monotonic() - started:.0f} s)")
        time.sleep(_POLL)


def _ack_statuses(path: Path) -> list[Any]:
    import airex
    from airex.messages.acknowledgement import AcknowledgementMessage

    message = airex.parse(path.read_bytes())
    assert isinstance(message, AcknowledgementMessage)
    return list(message.acknowledgements)


def require_accepted(path: Path, what: str) -> list[Any]:
    acks = _ack_statuses(path)
    bad = [a for a in acks if a.message_status != "MessageAccepted"]
    if bad:
        details = "; ".join(
            f"{a.acknowledged_file_name or a.acknowledged_message_id}: {a.message_status} "
            + ", ".join(f"{e.error_code} {e.error_text}" for e in a.errors[:3])
            for a in bad[:5]
        )
        raise DemoError(f"{what} was not accepted ({path}): {details}")
    return acks
