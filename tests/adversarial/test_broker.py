"""The embedded broker under a full disk (issue 13, smaller items): a short write is
continued, a failed one leaves no half-written ``.msg.tmp`` file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from airex.db import DatabaseConfig
from airex.exchange import ExchangeSettings
from airex.exchange import transport as transport_module
from airex.exchange.transport import broker_transport, broker_transport_options


def _connection(tmp_path: Path) -> tuple[Connection, Path]:
    settings = ExchangeSettings(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'a.db'}"), home=tmp_path / "home"
    )
    options = broker_transport_options(settings)
    connection = Connection(
        "filesystem://localhost//",
        transport=broker_transport(settings),
        transport_options=options,
    )
    return connection, Path(options["data_folder_out"])


def test_short_writes_are_continued_and_a_full_disk_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that stores only part of the message is continued; one that fails (no space
    left) raises ChannelError and leaves no temporary file."""
    real = os.write

    def short(fd: int, data: Any) -> int:
        return real(fd, bytes(data[: max(1, len(data) // 3)]))

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    connection, folder = _connection(tmp_path)
    with connection:
        queue = connection.SimpleQueue("q")
        monkeypatch.setattr(transport_module.os, "write", short)
        queue.put({"n": "x" * 5000})
        monkeypatch.setattr(transport_module.os, "write", full)
        with pytest.raises(ChannelError):
            queue.put({"n": 1})
        monkeypatch.setattr(transport_module.os, "write", real)
        assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
        assert queue.get(timeout=5).payload == {"n": "x" * 5000}
        queue.close()
