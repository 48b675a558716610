"""Shared data and helpers of the batch tests: sample messages, hand-made batches and zips."""

from __future__ import annotations

import stat
import warnings
import zipfile
from pathlib import Path

from parties import CMO as CMO  # the batch tests' parties, re-exported
from parties import DEV as DEV

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
VALID_SAMPLES = sorted(
    p for p in SAMPLES.glob("*/*.xml") if p.parent.name not in ("invalid", "manifest")
)
INVALID = SAMPLES / "invalid"


def sample(family: str, name: str) -> Path:
    """The valid sample ``samples/<family>/<name>.xml``."""
    path = SAMPLES / family / f"{name}.xml"
    assert path in VALID_SAMPLES, path
    return path


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Create ``folder`` holding ``files`` (relative ``/`` paths → bytes); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = folder.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def member(name: str, *, mode: int = stat.S_IFREG | 0o644, unix: bool = True) -> zipfile.ZipInfo:
    """A zip member header named ``name`` (raw, unchecked) with Unix ``mode``."""
    info = zipfile.ZipInfo(name, date_time=(2026, 4, 20, 9, 15, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    if unix:
        info.create_system = 3
        info.external_attr = mode << 16
    return info


def write_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    """Write a zip of ``members`` exactly as given (duplicates and hostile names included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: wanted here
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for info, data in members:
                archive.writestr(member(info) if isinstance(info, str) else info, data)
    return path


def zip_folder(folder: Path, target: Path, *, prefix: str = "") -> Path:
    """Zip every file under ``folder`` (names relative to it, under ``prefix``)."""
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (prefix + p.relative_to(folder).as_posix(), p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    return write_zip(target, members)
