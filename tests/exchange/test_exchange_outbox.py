"""The outbox relay and the drop-folder watcher, driven one round at a time (no threads)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from exchange_support import CMO, DEV, RH1, Env, licence_request, statuses

from airex.batch import pack
from airex.exchange import DropWatcher, serve
from airex.exchange.models import outbox


def _open_rows(env: Env) -> int:
    """Outbox rows not done yet."""
    return int(env.scalar("SELECT count(*) FROM exchange_outbox WHERE done_at IS NULL"))


def test_relay_performs_what_the_writer_left_undone(backend: Env) -> None:
    """Rows a process committed but never performed (it died) are performed by the relay once
    they are older than relay_grace, and only then."""
    env = backend
    env.settings = env.settings.with_(relay_grace=2.0)  # ample: a loaded machine stalls
    exchange = env.exchange()
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    outcome = exchange.process(received_id)  # commits its deliveries; nobody performs them
    assert outcome.owed
    assert exchange.relay_once().done == []  # the process row and the deliveries are fresh
    time.sleep(2.1)
    report = exchange.relay_once()
    assert sorted(report.done) == sorted(outcome.outbox_ids)
    assert report.published == []  # its processing task was closed by the processing
    assert [n for n in env.inbox_files(DEV) if n.startswith("ACK_")] != []
    assert _open_rows(env) == 0


def test_relay_publishes_lost_tasks_again_until_processed(backend: Env) -> None:
    """A published task not processed within redeliver_after is published again (with its
    delivery number), and a processed one never is."""
    env = backend
    env.settings = env.settings.with_(relay_grace=0.1, redeliver_after=0.3)
    exchange = env.exchange()
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV)  # published
    assert exchange.relay_once().published == []
    time.sleep(0.4)
    assert len(exchange.relay_once().published) == 1  # lost (nobody consumed it): again
    count = env.scalar(f"SELECT publish_count FROM exchange_outbox WHERE received_id={received_id}")
    assert count == 2
    exchange.deliver_rows(exchange.process(received_id).owed)
    time.sleep(0.4)
    assert exchange.relay_once().published == []
    assert _open_rows(env) == 0


def test_failed_delivery_is_recorded_and_retried(backend: Env) -> None:
    """A delivery that fails (its folder cannot be written) keeps its error and is done by
    the relay once the cause is gone."""
    env = backend
    env.settings = env.settings.with_(relay_grace=0.0)
    exchange = env.exchange()
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    inbox = env.inbox(CMO)
    inbox.rmdir()
    inbox.write_text("a file where the inbox folder should be")
    report = exchange.deliver_rows(exchange.process(received_id).owed)
    assert len(report.failed) == 1
    with env.engine.connect() as connection:
        error = connection.execute(
            sa.select(outbox.c.last_error).where(outbox.c.id.in_(list(report.failed)))
        ).scalar_one()
    assert error is not None
    inbox.unlink()
    inbox.mkdir()
    assert sorted(exchange.relay_once().done) == sorted(report.failed)
    message_id = env.scalar("SELECT message_id FROM exchange_received")
    assert list(env.inbox_files(CMO)) == [f"{DEV}_{message_id}.xml"]


# --- the watcher -------------------------------------------------------------------------


def _settled(env: Env) -> None:
    """Make the watcher quick to consider a file complete (0.2 s without change)."""
    env.settings = env.settings.with_(settle_time=0.2)


def test_watcher_takes_complete_files_only(embedded: Env) -> None:
    """A file is taken once its size and time stayed still for settle_time; temporary and
    hidden files are never taken; a taken file leaves the drop folder."""
    env = embedded
    _settled(env)
    watcher = DropWatcher(env.exchange())
    drop = env.drop(DEV)
    (drop / "request.xml").write_bytes(licence_request())
    (drop / "upload.xml.part").write_bytes(b"<half")
    (drop / ".hidden.xml").write_bytes(b"<x/>")
    assert watcher.scan_once() == 0  # first sight: not settled yet
    time.sleep(0.3)
    assert watcher.scan_once() == 1
    assert sorted(p.name for p in drop.iterdir()) == [".hidden.xml", ".taking", "upload.xml.part"]
    assert list((drop / ".taking").iterdir()) == []
    assert env.scalar("SELECT source || ' ' || arrival_party FROM exchange_received") == (
        f"drop {DEV}"
    )


def test_watcher_waits_for_a_growing_file(embedded: Env) -> None:
    """A file still being written (its size changes between scans) is not taken."""
    env = embedded
    _settled(env)
    watcher = DropWatcher(env.exchange())
    path = env.drop(DEV) / "growing.xml"
    path.write_bytes(b"<Licence")
    watcher.scan_once()
    time.sleep(0.3)
    path.write_bytes(licence_request())
    assert watcher.scan_once() == 0
    time.sleep(0.3)
    assert watcher.scan_once() == 1


def test_watcher_takes_a_batch_folder_once_its_manifest_is_there(
    embedded: Env, tmp_path: Path
) -> None:
    """A batch folder without BatchComplete is left alone; with it, it is taken whole."""
    env = embedded
    _settled(env)
    watcher = DropWatcher(env.exchange())
    packed = pack([licence_request()], tmp_path / "out", sender=DEV)
    manifest = next(packed.path.glob("BatchComplete_*.xml"))
    held = manifest.read_bytes()
    manifest.unlink()
    target = env.drop(DEV) / packed.path.name
    packed.path.rename(target)
    for _ in range(2):
        assert watcher.scan_once() == 0
        time.sleep(0.3)
    (target / manifest.name).write_bytes(held)
    watcher.scan_once()
    time.sleep(0.3)
    assert watcher.scan_once() == 1
    assert env.scalar("SELECT count(*) FROM exchange_batch") == 1
    assert not target.exists()


def test_watcher_finishes_what_a_dead_watcher_left(embedded: Env) -> None:
    """Files left in .taking/ (renamed, not yet recorded, or recorded and not yet deleted)
    are received once they are old enough: never lost, never twice."""
    env = embedded
    taking = env.drop(DEV) / ".taking"
    taking.mkdir()
    (taking / "aaaa__left.xml").write_bytes(licence_request(message_id="LEFT-1"))
    exchange = env.exchange()
    done = taking / "bbbb__done.xml"
    done.write_bytes(licence_request(message_id="DONE-1"))
    from airex.exchange import Incoming

    exchange.receive([Incoming(done.read_bytes(), "done.xml", DEV, "drop", "bbbb")])
    DropWatcher(exchange).scan_once()  # another watcher may be taking them: left alone
    assert len(list(taking.iterdir())) == 2
    DropWatcher(exchange, recover_after=0.0).scan_once()
    assert list(taking.iterdir()) == []
    rows = env.scalar("SELECT count(*) FROM exchange_received")
    assert rows == 2


def test_serve_once_takes_relays_and_processes_nothing_itself(embedded: Env) -> None:
    """One round of serve takes a settled drop and publishes its task (workers process it)."""
    env = embedded
    env.settings = env.settings.with_(settle_time=0.0)
    exchange = env.exchange()
    (env.drop(RH1) / "ack.xml").write_bytes(licence_request(DEV, CMO))
    serve(exchange, once=True)
    assert env.scalar("SELECT state FROM exchange_received") == "pending"
    assert env.scalar("SELECT publish_count FROM exchange_outbox WHERE kind='process'") == 1
    queue_files = [n for n in os.listdir(env.settings.broker_dir / "queue") if n.endswith(".msg")]
    assert len(queue_files) == 1
    outcome = exchange.process(int(env.scalar("SELECT id FROM exchange_received")))
    exchange.deliver_rows(outcome.owed)
    ((_, data),) = [(n, d) for n, d in env.inbox_files(RH1).items() if n.startswith("ACK_")]
    assert statuses(data)[0][1] == "NotAuthorised"
