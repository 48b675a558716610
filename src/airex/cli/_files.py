"""Finding the message files a command works on, and reading them safely.

Folders are walked recursively (symbolic links to folders are not followed, so a link loop
cannot trap the walk); every entry whose name ends in ``.xml`` is taken, in sorted order, so two
runs over the same tree report in the same order. ``--exclude`` globs prune what a walk finds.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from fnmatch import fnmatchcase

import typer

from airex.errors import (
    MessageError,
    MessageInvalidError,
    MessageStatus,
    UnknownMessageTypeError,
    XmlRejectedError,
)
from airex.messages import AirexMessage, CheckResult, check, parse
from airex.xml import ParseLimits

__all__ = [
    "FOLDER_GIVEN",
    "NO_SUCH_FILE",
    "UNREADABLE",
    "Outcome",
    "cannot_write",
    "check_file",
    "collect",
    "display_name",
    "file_problem",
    "format_error",
    "parse_file",
    "print_errors",
    "require_files",
    "require_output_file",
    "require_output_folder",
]

UNREADABLE = "FileUnreadable"
"""The code reported for a file the operating system would not let airex read."""

_INTERNAL = MessageStatus.INTERNAL_ERROR


def display_name(path: str) -> str:
    """``path`` as printable text (undecodable bytes of a file name shown as ``\\xNN``)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_error(name: str, error: MessageError) -> str:
    """``file:line: CODE path: message`` (without ``:line`` or `` path`` when unknown)."""
    where = f"{name}:{error.line}" if error.line is not None else name
    at = f" {error.path}" if error.path else ""
    return f"{where}: {error.code}{at}: {_one_line(error.message)}"


def _matches(relative: str, patterns: list[str]) -> bool:
    """True when the ``/``-separated ``relative`` path, its name or a folder on it matches."""
    parts = relative.split("/")
    candidates = [relative, *parts, *("/".join(parts[:i]) for i in range(1, len(parts)))]
    return any(fnmatchcase(c, p.strip("/")) for p in patterns for c in candidates)


def _walk(folder: str, excludes: list[str]) -> list[str]:
    found: list[tuple[tuple[str, ...], str]] = []

    def unlistable(exc: OSError) -> None:  # reported when checked, never silently skipped
        path = os.fspath(exc.filename) if exc.filename is not None else folder
        rel = os.path.relpath(path, folder)
        found.append(((() if rel == os.curdir else tuple(rel.split(os.sep))), path))

    for current, dirnames, filenames in os.walk(folder, onerror=unlistable):
        rel_dir = os.path.relpath(current, folder)
        rel_parts: tuple[str, ...] = () if rel_dir == os.curdir else tuple(rel_dir.split(os.sep))
        kept = []
        for name in sorted(dirnames):
            rel = (*rel_parts, name)
            if _matches("/".join(rel), excludes):
                continue
            kept.append(name)
            if name.lower().endswith(".xml"):  # a folder named *.xml: reported as unreadable
                found.append((rel, os.path.join(current, name)))
        dirnames[:] = kept
        for name in filenames:
            rel = (*rel_parts, name)
            if name.lower().endswith(".xml") and not _matches("/".join(rel), excludes):
                found.append((rel, os.path.join(current, name)))
    return [path for _, path in sorted(found)]


def collect(paths: list[str], excludes: list[str], *, param: str = "PATH") -> list[str]:
    """Every file to check, in order: named files as given, then each folder's XML files.

    Raises a usage error (exit status 2) for a path that does not exist and for a folder that
    holds no XML file (after ``excludes``).
    """
    files: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if not os.path.lexists(path):
            typer.echo(f"airex: {display_name(path)}: {NO_SUCH_FILE_OR_FOLDER}", err=True)
            raise typer.Exit(2)
        if os.path.isdir(path):
            found = _walk(path, excludes)
            if not found:
                hint = f" (after --exclude {' '.join(excludes)})" if excludes else ""
                raise typer.BadParameter(
                    f"no *.xml file found under folder {display_name(path)}{hint}",
                    param_hint=param,
                )
        else:
            found = [path]
        for file in found:
            key = os.path.normpath(file)
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files


FOLDER_GIVEN = "cannot read the file: it is a folder"
"""What every command says of a folder given where a file is expected."""
NO_SUCH_FILE = "no such file"
"""What every command says of a file that is not there."""
NO_SUCH_FILE_OR_FOLDER = "no such file or folder"
"""What a command that takes files or folders says of a path that is not there."""
NOT_REGULAR = "cannot read the file: it is not a regular file (a pipe, a device or a socket)"
"""What every command says of a FIFO, a device or a socket: never opened (it could block, or
never end)."""


def _not_regular(path: str) -> bool:
    """True when ``path`` (links followed) exists and is neither a file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # reported as unreadable by whoever opens it
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def file_problem(path: str) -> str | None:
    """Why ``path`` cannot be taken as a file (:data:`NO_SUCH_FILE`, :data:`FOLDER_GIVEN`), in
    the one phrasing every command uses; None when it is a file (or something to try reading:
    a file that exists but cannot be read is reported by the reader, as invalid input)."""
    if not os.path.lexists(path):
        return NO_SUCH_FILE
    if os.path.isdir(path):
        return FOLDER_GIVEN
    if not os.path.exists(path):  # a link to nothing
        return NO_SUCH_FILE
    if _not_regular(path):
        return NOT_REGULAR
    return None


def require_files(paths: list[str]) -> None:
    """Exit with status 2 (a usage error) unless every path is a regular file: prints
    ``airex: path: no such file``, ``airex: path: cannot read the file: it is a folder`` or
    ``... it is not a regular file``."""
    for path in paths:
        problem = file_problem(path)
        if problem is not None:
            typer.echo(f"airex: {display_name(path)}: {problem}", err=True)
            raise typer.Exit(2)


CANNOT_WRITE = "cannot write there"
"""What every command says of an output path it cannot write, before saying why."""
_IS_A_FILE = "it is a file, not a folder"
_IS_A_FOLDER = "it is a folder, not a file"
_WHY_NOT = {
    errno.EEXIST: _IS_A_FILE,  # a folder to make where a file is
    errno.ENOTDIR: "a folder on its path is a file",
    errno.ENOENT: "its folder does not exist",
    errno.EISDIR: _IS_A_FOLDER,
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.ENAMETOOLONG: "the name is too long",
}


def _output_problem(path: str, *, folder: bool, make_folders: bool) -> str | None:
    """Why nothing can be written at ``path`` (a folder, or a file when not ``folder``),
    found without writing; None when it is to be tried. ``make_folders``: missing folders on
    the way are made by the command."""
    target = os.path.normpath(path)
    if os.path.isdir(target):
        return None if folder else _IS_A_FOLDER
    if os.path.lexists(target):
        return _IS_A_FILE if folder else None
    above = os.path.dirname(target)
    missing = None
    while above and not os.path.lexists(above):
        missing = above
        above = os.path.dirname(above)
    if above and not os.path.isdir(above):
        return f"{display_name(above)} is a file, not a folder"
    if missing is not None and not make_folders:
        return f"no such folder {display_name(os.path.dirname(target))}"
    return None


def _refuse_output(path: str, problem: str) -> typer.Exit:
    typer.echo(f"airex: {display_name(path)}: {CANNOT_WRITE}: {problem}", err=True)
    return typer.Exit(2)


def require_output_folder(path: str | os.PathLike[str], *, make: bool = True) -> None:
    """Exit with status 2 unless ``path`` is a folder, or one the command can make
    (``make``): ``airex: PATH: cannot write there: it is a file, not a folder`` (or ``X is a
    file, not a folder`` for a file on its way, ``no such folder X``). Checked before any
    work, so that nothing is done, or half-written, for output that has nowhere to go."""
    name = os.fspath(path)
    problem = _output_problem(name, folder=True, make_folders=make)
    if problem is None and not make and not os.path.isdir(name):
        problem = "no such folder"
    if problem is not None:
        raise _refuse_output(name, problem)


def require_output_file(path: str | os.PathLike[str], *, make_folders: bool = False) -> None:
    """Exit with status 2 unless a file can be written at ``path``: ``airex: PATH: cannot
    write there: it is a folder, not a file`` (or ``no such folder X``, ``X is a file, not a
    folder``). ``make_folders``: the command makes missing folders on its way."""
    name = os.fspath(path)
    problem = _output_problem(name, folder=False, make_folders=make_folders)
    if problem is not None:
        raise _refuse_output(name, problem)


def cannot_write(path: str | os.PathLike[str], exc: OSError) -> typer.Exit:
    """Print ``airex: PATH: cannot write there: <why>`` for ``exc`` (raised writing at
    ``path``); the Exit (status 2) to raise."""
    why = _WHY_NOT.get(exc.errno or 0) or (exc.strerror or exc.__class__.__name__).lower()
    return _refuse_output(os.fspath(path), why)


def _source(path: str) -> str:
    # The parser takes a str starting with "<" for a document, not a file name: "./" avoids it.
    return os.path.join(os.curdir, path) if path.lstrip().startswith("<") else path


def _unreadable(exc: OSError) -> MessageError:
    reason = exc.strerror or exc.__class__.__name__
    return MessageError(UNREADABLE, f"cannot read the file: {reason}", status=_INTERNAL)


@dataclass
class Outcome:
    """What checking one file found; ``message`` is set only when it was parsed."""

    name: str
    result: CheckResult
    message: AirexMessage | None = None

    @property
    def valid(self) -> bool:
        """True when no error was found."""
        return self.result.valid

    def lines(self) -> list[str]:
        """One ``file:line: CODE path: message`` line per error (none when valid)."""
        return [format_error(self.name, error) for error in self.result.errors]

    def as_json(self) -> dict[str, object]:
        """The object ``airex validate --json`` prints for this file."""
        return {
            "file": self.name,
            "valid": self.result.valid,
            "message_type": self.result.message_type,
            "message_id": self.result.message_id,
            "errors": [error.as_dict() for error in self.result.errors],
        }


def _folder_error(path: str) -> MessageError:
    if os.access(path, os.R_OK | os.X_OK):
        reason = "it is a folder, not a file"
    else:
        reason = "it is a folder that cannot be listed (permission denied)"
    return MessageError(UNREADABLE, f"cannot read the file: {reason}", status=_INTERNAL)


def _not_regular_error() -> MessageError:
    return MessageError(UNREADABLE, NOT_REGULAR, status=_INTERNAL)


def check_file(path: str, limits: ParseLimits) -> Outcome:
    """Validate one file; a file that cannot be read is an error of that file, not a crash."""
    name = display_name(path)
    if os.path.isdir(path):
        return Outcome(name, CheckResult(errors=[_folder_error(path)]))
    if _not_regular(path):
        return Outcome(name, CheckResult(errors=[_not_regular_error()]))
    result = check(_source(path), limits)  # an unreadable file comes back as FileUnreadable
    result.tree = None  # do not keep every document of a large run in memory
    return Outcome(name, result)


def parse_file(path: str, limits: ParseLimits) -> Outcome:
    """Parse one file into its model, or collect every error that prevents it."""
    name = display_name(path)
    if _not_regular(path):
        return Outcome(name, CheckResult(errors=[_not_regular_error()]))
    try:
        message = parse(_source(path), limits=limits)
    except (XmlRejectedError, UnknownMessageTypeError, MessageInvalidError) as exc:
        return Outcome(name, CheckResult(errors=exc.errors))
    except OSError as exc:
        return Outcome(name, CheckResult(errors=[_unreadable(exc)]))
    result = CheckResult(message_type=message.message_type, message_id=message.message_id)
    return Outcome(name, result, message)


def print_errors(errors: list[MessageError], fallback: str) -> None:
    """Each error as ``file:line: CODE path: message`` on standard error."""
    for error in errors:
        typer.echo(format_error(display_name(error.file or fallback), error), err=True)
