"""``airex batch``: pack messages into a batch, verify a received batch, unpack a batch zip.

Exit status of ``verify``: 0 when every message is accepted, 1 when any message (or the batch
as a whole) is rejected or the batch is incomplete (no BatchComplete file: not processed, not
acknowledged), 2 on a usage error. ``pack`` and ``unpack``: 0 done, 1 the input is refused (nothing
written), 2 usage error (including a destination that exists).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from airex.cli._common import APP_SETTINGS, fail
from airex.cli._common import out as _out
from airex.cli._files import (
    cannot_write,
    collect,
    display_name,
    format_error,
    require_output_file,
    require_output_folder,
)

if TYPE_CHECKING:
    from airex.batch import BatchReport
    from airex.errors import MessageError

__all__ = ["batch_app"]

_EXIT_USAGE = 2

batch_app = typer.Typer(
    name="batch",
    help=(
        "Batches: many messages sent as one folder or zip, completed by a BatchComplete "
        "manifest (hashes, sizes) written last, answered with ACK_<BatchId>.xml."
    ),
    epilog=(
        "\b\nExamples:\n"
        "  airex batch pack invoices/*.xml --out outbox/           # outbox/<BatchId>/\n"
        "  airex batch pack inv.xml stmt.xml --out outbox/ --zip    # outbox/<BatchId>.zip\n"
        "  airex batch verify inbox/20260420091500000 --write-ack   # check, answer\n"
        "  airex batch unpack inbox/20260420091500000.zip --out batch/"
    ),
    **APP_SETTINGS,
)


def _fail(message: str, code: int = _EXIT_USAGE) -> NoReturn:
    raise fail(message, code)


@batch_app.command(
    short_help="Write messages as one batch folder or zip, the manifest last.",
    epilog=(
        "\b\nExamples:\n"
        "  airex batch pack inv.xml stmt.xml --out outbox/            # outbox/<BatchId>/\n"
        "  airex batch pack statements/ --out outbox/ --zip           # outbox/<BatchId>.zip\n"
        "  airex batch pack a.xml --out b.zip --batch-id 20260420091500000\n"
        "  airex batch pack a.xml --out outbox/ --sender PADPIDA2026HARMONIA \\\n"
        "      --recipient PADPIDA2026CADENZA --algorithm SHA-512 --test\n"
        "\n\nExit status: 0 packed (the batch's path is printed), 1 a message is invalid or "
        "cannot be packed (its errors are printed; nothing is written), 2 usage error "
        "(e.g. the batch exists)."
    ),
)
def pack(
    messages: Annotated[
        list[str],
        typer.Argument(
            metavar="MESSAGES",
            help="Message files, or folders to search recursively for *.xml files.",
            show_default=False,
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR|ZIP",
            help="Folder to write the batch into (as DIR/<BatchId>/, or DIR/<BatchId>.zip with "
            "--zip), created if missing; or a file name ending in .zip.",
            show_default=False,
        ),
    ],
    sender: Annotated[
        str | None,
        typer.Option(
            "--sender",
            metavar="PARTY_ID",
            help="The manifest's MessageSender (default: the first message's sender).",
        ),
    ] = None,
    recipients: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            metavar="PARTY_ID",
            help="A MessageRecipient of the manifest (repeatable; default: the first "
            "message's recipients).",
            show_default=False,
        ),
    ] = None,
    batch_id: Annotated[
        str | None,
        typer.Option(
            "--batch-id",
            metavar="YYYYMMDDhhmmssnnn",
            help="The BatchId (default: now, UTC, to the millisecond).",
        ),
    ] = None,
    as_zip: Annotated[bool, typer.Option("--zip", help="Write DIR/<BatchId>.zip.")] = False,
    algorithm: Annotated[
        str,
        typer.Option("--algorithm", metavar="ALG", help="Hash algorithm: SHA-256, SHA-512 or MD5."),
    ] = "SHA-256",
    test: Annotated[
        bool, typer.Option("--test", help="Mark the batch IsTestFlag and TestMessage.")
    ] = False,
) -> None:
    """Pack messages into one batch: each message is validated first, then copied to the
    top level of the batch as <MessageId>.xml, and BatchComplete_<BatchId>.xml (SHA-256
    hashes and sizes) is written last. The batch appears whole or not at all: it is built
    under a hidden temporary name and renamed into place. Nothing is ever overwritten.
    """
    files = collect(messages, [], param="MESSAGES")
    if out.lower().endswith(".zip"):  # the zip file itself
        require_output_file(out, make_folders=True)
    else:
        require_output_folder(out)
    from airex.batch import BatchExistsError, BatchPackError
    from airex.batch import pack as pack_batch

    try:
        packed = pack_batch(
            [Path(f) for f in files],
            out,
            sender=sender,
            recipients=recipients or (),
            batch_id=batch_id,
            zip=as_zip,
            algorithm=algorithm,
            test=test,
        )
    except BatchPackError as exc:
        for name, errors in exc.problems:
            for error in errors:
                _out(format_error(display_name(name), error))
        summary = str(exc).splitlines()[0]
        _fail(summary, 1)
    except BatchExistsError as exc:
        _fail(str(exc))
    except ValueError as exc:  # a malformed --batch-id or --algorithm
        raise typer.BadParameter(str(exc)) from exc
    except OSError as exc:  # the messages were read when checked: this is the output's
        raise cannot_write(out, exc) from None
    _out(str(packed.path))
    count = len(packed.entries)
    typer.echo(
        f"packed {count} message{'s' if count != 1 else ''} as batch {packed.batch_id}: "
        f"{packed.path}",
        err=True,
    )


def _error_lines(name: str, errors: list[MessageError]) -> list[str]:
    lines = []
    for error in errors:  # batch errors name their file in the text too: not twice here
        message = error.message.removeprefix(f"{name}: ")
        lines.append("  " + format_error(name, replace(error, message=message)))
    return lines


def _print_report(report: BatchReport) -> None:
    manifest = report.manifest_file_name
    if report.manifest_errors:
        _out(f"{manifest}: {report.manifest_status} (the batch is refused; nothing processed)")
        for line in _error_lines(manifest, report.manifest_errors):
            _out(line)
    for entry in report.entries:
        _out(f"{entry.url}: {entry.status} {entry.message_type} {entry.message_id}")
        for line in _error_lines(entry.url, entry.errors):
            _out(line)
    for warning in report.warnings:
        _out(f"warning: {format_error(manifest, warning)}")


@batch_app.command(
    short_help="Check a received batch: completeness, hashes, every message; write the ACK.",
    epilog=(
        "\b\nExamples:\n"
        "  airex batch verify inbox/20260420091500000\n"
        "  airex batch verify inbox/20260420091500000.zip --json\n"
        "  airex batch verify inbox/20260420091500000 --write-ack   # inbox/ACK_<BatchId>.xml\n"
        "  airex batch verify batch/ --write-ack --as PADPIDA2026CADENZA --ack-dir outbox/\n"
        "\n\nExit status: 0 every message accepted, 1 a message or the whole batch "
        "rejected, or the batch incomplete (no BatchComplete file: not processed), 2 usage "
        "error."
    ),
)
def verify(
    path: Annotated[
        str,
        typer.Argument(metavar="PATH", help="The batch: a folder, or a .zip file."),
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print one JSON object: {"batch", "batch_id", "complete", "processable", '
            '"manifest": {...}, "entries": [{"url", "message_type", "message_id", "status", '
            '"errors"}], "unlisted", "ack"}.',
        ),
    ] = False,
    write: Annotated[
        bool,
        typer.Option(
            "--write-ack",
            help="Write the AcknowledgementMessage as ACK_<BatchId>.xml next to the batch.",
        ),
    ] = False,
    ack_sender: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="PARTY_ID",
            help="Who acknowledges (default: the manifest's first recipient).",
        ),
    ] = None,
    ack_dir: Annotated[
        str | None,
        typer.Option(
            "--ack-dir", metavar="DIR", help="Write the ACK file here instead of next to the batch."
        ),
    ] = None,
) -> None:
    """Check a batch: its BatchComplete manifest is present and valid, every listed file is
    there with the listed size and hash, every message is valid and is what the manifest says;
    files the manifest does not list are reported, never processed. Each message has its own
    verdict: a hash mismatch rejects that message (SignatureOrHashSumWrongOrMissing) and the
    rest stand. Zips are checked for hostile members (path traversal, links, zip bombs)
    before anything is decompressed.
    """
    from airex.batch import BatchError, acknowledgement, open_batch, write_ack
    from airex.batch import verify as verify_batch

    if write and ack_dir is not None:
        require_output_folder(ack_dir, make=False)
    try:
        report = verify_batch(open_batch(path))
    except BatchError as exc:
        _fail(str(exc))
    if not report.complete and not report.manifest_errors:
        if as_json:
            _out(json.dumps(dict(report.as_json(), ack=None), ensure_ascii=False))
        _fail(
            f"batch {display_name(path)} is incomplete: no BatchComplete file "
            "(not processed, not acknowledged)",
            1,
        )
    ack_path = None
    if write:
        sender = ack_sender
        if sender is None and report.manifest is not None:
            sender = report.manifest.message_header.message_recipients[0].party_id
        if sender is None:
            _fail("the manifest cannot be read, so who acknowledges is unknown: pass --as")
        try:
            ack = acknowledgement(report, sender=sender)
        except ValueError as exc:
            _fail(str(exc))
        try:
            ack_path = write_ack(report, ack, directory=ack_dir)
        except OSError as exc:
            raise cannot_write(ack_dir or report.path.parent, exc) from None
    if as_json:
        result = dict(report.as_json(), ack=str(ack_path) if ack_path else None)
        _out(json.dumps(result, ensure_ascii=False))
    else:
        _print_report(report)
    sys.stdout.flush()
    rejected = sum(1 for e in report.entries if not e.accepted)
    if not as_json:
        if report.manifest_errors:
            summary = f"batch {report.batch_id or report.path.name}: refused as a whole"
        else:
            summary = (
                f"batch {report.batch_id}: {len(report.entries)} messages, "
                f"{len(report.entries) - rejected} accepted, {rejected} rejected"
            )
        if report.unlisted:
            summary += f", {len(report.unlisted)} unlisted file(s) ignored"
        typer.echo(summary, err=True)
        if ack_path is not None:
            typer.echo(f"acknowledgement written to {ack_path}", err=True)
    raise typer.Exit(0 if report.all_accepted else 1)


@batch_app.command(
    short_help="Extract a batch zip into a folder, refusing hostile archives.",
    epilog=(
        "\b\nExamples:\n"
        "  airex batch unpack 20260420091500000.zip                 # -> ./20260420091500000/\n"
        "  airex batch unpack inbox/20260420091500000.zip --out work/batch\n"
        "\n\nExit status: 0 extracted, 1 the archive is refused (nothing written), 2 usage "
        "error (no such file, destination exists)."
    ),
)
def unpack(
    archive: Annotated[str, typer.Argument(metavar="ZIP", help="The batch zip file.")],
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Folder to extract into (must not exist, or be empty; default: the zip's "
            "path without .zip).",
        ),
    ] = None,
) -> None:
    """Extract a batch zip: its files land directly in DIR (a single top folder inside the zip
    is dropped), the manifest last, all under a temporary name renamed into place. Members
    with absolute paths, .., backslashes, links, duplicate names, or sizes and compression
    ratios beyond the limits refuse the whole archive. Hashes are not checked: run
    airex batch verify on the zip or on DIR.
    """
    from airex.batch import BatchError, BatchExistsError, BatchRefusedError
    from airex.batch import unpack as unpack_batch

    source = Path(archive)
    target = Path(out) if out is not None else source.with_suffix("")
    if target == source:
        _fail(f"cannot extract {display_name(archive)} onto itself; pass --out")
    if not os.path.lexists(target):  # one that exists is judged by unpack (empty folder?)
        require_output_folder(target)
    try:
        written = unpack_batch(source, target)
    except BatchRefusedError as exc:
        for error in exc.errors:
            _out(format_error(display_name(archive), error))
        _fail(f"{display_name(archive)}: archive refused; nothing written", 1)
    except BatchExistsError as exc:
        _fail(str(exc))
    except BatchError as exc:
        _fail(str(exc))
    except OSError as exc:  # the archive was read whole first: this is the output's
        raise cannot_write(target, exc) from None
    _out(str(written))
