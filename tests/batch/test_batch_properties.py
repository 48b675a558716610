"""Invariants of batches, checked on generated inputs (hypothesis)."""

from __future__ import annotations

import os
import posixpath
import tempfile
import zipfile
from pathlib import Path

from batch_support import VALID_SAMPLES, write_zip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airex
from airex.batch import acknowledgement, open_batch, pack, verify
from airex.errors import MessageStatus

SAMPLE_BYTES = [p.read_bytes() for p in VALID_SAMPLES]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

subsets = st.lists(st.sampled_from(range(len(SAMPLE_BYTES))), min_size=1, max_size=8, unique=True)


@SETTINGS
@given(
    chosen=subsets,
    as_zip=st.booleans(),
    algorithm=st.sampled_from(["SHA-256", "SHA-512", "MD5"]),
)
def test_any_subset_of_samples_packs_and_verifies_clean(
    chosen: list[int], as_zip: bool, algorithm: str
) -> None:
    """Any subset of valid samples, in any order, as folder or zip: every entry accepted, in
    order, with the very bytes packed, and the acknowledgement is a valid message."""
    with tempfile.TemporaryDirectory() as tmp:
        messages = [SAMPLE_BYTES[i] for i in chosen]
        packed = pack(messages, Path(tmp), zip=as_zip, algorithm=algorithm)
        report = verify(packed.path)
        assert report.all_accepted
        assert report.unlisted == []
        assert [e.data for e in report.entries_to_process()] == messages
        ack = acknowledgement(report, sender="PADPIDA2026RECEIVER")
        assert len(ack.acknowledgements) == len(messages)
        assert airex.check(airex.serialise(ack)).errors == []


@SETTINGS
@given(chosen=subsets, data=st.data())
def test_one_damaged_file_rejects_exactly_that_message(
    chosen: list[int], data: st.DataObject
) -> None:
    """Flip one byte of one message file: that entry alone is SignatureOrHashSumWrongOrMissing,
    every other entry is accepted and processed, and the manifest is acknowledged too."""
    with tempfile.TemporaryDirectory() as tmp:
        packed = pack([SAMPLE_BYTES[i] for i in chosen], Path(tmp))
        victim = data.draw(st.sampled_from(range(len(chosen))), label="victim")
        path = packed.path / packed.entries[victim].url
        content = bytearray(path.read_bytes())
        offset = data.draw(st.integers(0, len(content) - 1), label="offset")
        content[offset] ^= data.draw(st.integers(1, 255), label="xor")
        path.write_bytes(bytes(content))
        report = verify(packed.path)
        rejected = [i for i, e in enumerate(report.entries) if not e.accepted]
        assert rejected == [victim]
        assert report.entries[victim].status is MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING
        assert [e.code for e in report.entries[victim].errors] == ["HashSumMismatch"]
        assert len(report.entries_to_process()) == len(chosen) - 1
        ack = acknowledgement(report, sender="PADPIDA2026RECEIVER")
        assert len(ack.acknowledgements) == len(chosen) + 1  # the manifest's own, first
        assert airex.check(airex.serialise(ack)).errors == []


segment = st.sampled_from(["a", "b.xml", "..", ".", "", "C:", "x\\y", "\x00", " ", "é", "A"])
names = st.lists(segment, min_size=1, max_size=4).map("/".join) | st.text(max_size=12)


@SETTINGS
@given(member_names=st.lists(names, min_size=1, max_size=5))
def test_zip_members_never_resolve_outside_the_batch(member_names: list[str]) -> None:
    """Whatever the member names, open_batch never raises, and every name of an archive it
    accepts stays inside the batch folder once joined to it."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "20260420091500000.zip"
        try:
            write_zip(archive, [(name, b"<x/>") for name in member_names])
        except (ValueError, zipfile.BadZipFile):
            return  # zipfile itself cannot write such a name: nothing to read
        batch = open_batch(archive)
        if batch.refusal:
            assert verify(batch).entries_to_process() == []
            return
        root = os.path.realpath(tmp)
        for name in batch.names():
            joined = os.path.normpath(os.path.join(root, *name.split("/")))
            assert joined.startswith(root + os.sep)
            assert ".." not in name.split("/")
            assert not posixpath.isabs(name)
            assert "\\" not in name
