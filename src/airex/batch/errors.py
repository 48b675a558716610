"""Exceptions of :mod:`airex.batch`, under :class:`airex.errors.AirexError`.

::

    AirexError
    └── BatchError                          a batch cannot be packed, read or acknowledged as asked
        ├── BatchPackError (ValueError)     a message cannot go into a batch; ``.problems`` says why
        ├── BatchExistsError (FileExistsError)  the batch (folder, zip or unpack target) exists
        ├── BatchRefusedError (ValueError)  the batch as a whole is refused (hostile or broken zip,
        │                                   invalid manifest); ``.errors`` holds the MessageErrors
        └── IncompleteBatchError (ValueError)  no BatchComplete file: the batch is not processed

What is wrong with a *received* batch is data, not an exception: :func:`airex.batch.verify`
reports it (``BatchReport.manifest_errors``, each entry's ``status`` and ``errors``) so that it can
be acknowledged. The exceptions are for the sender's side and for misuse.
"""

from __future__ import annotations

from airex.errors import AirexError, MessageError

__all__ = [
    "BatchError",
    "BatchExistsError",
    "BatchPackError",
    "BatchRefusedError",
    "IncompleteBatchError",
]


class BatchError(AirexError):
    """Root of the batch errors."""


class BatchPackError(BatchError, ValueError):
    """One or more messages cannot be packed; nothing was written.

    ``problems`` pairs the name of each offending input (its file name, or ``message #N`` for
    bytes) with the errors found in it; the exception's text lists them as
    ``name:line: CODE path: message``.
    """

    def __init__(self, problems: list[tuple[str, list[MessageError]]], summary: str) -> None:
        self.problems = problems
        lines = [summary]
        for name, errors in problems:
            for error in errors[:5]:
                where = f"{name}:{error.line}" if error.line is not None else name
                at = f" {error.path}" if error.path else ""
                lines.append(f"  {where}: {error.code}{at}: {error.message}")
            if len(errors) > 5:
                lines.append(f"  {name}: ... and {len(errors) - 5} more errors")
        super().__init__("\n".join(lines))


class BatchExistsError(BatchError, FileExistsError):
    """The destination of a pack or unpack already exists; it is never overwritten."""


class BatchRefusedError(BatchError, ValueError):
    """The batch as a whole cannot be used; ``errors`` says why (codes as in acknowledgements)."""

    def __init__(self, errors: list[MessageError], source: str) -> None:
        self.errors = list(errors)
        self.source = source
        first = str(self.errors[0]) if self.errors else "no detail"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


class IncompleteBatchError(BatchError, ValueError):
    """The batch has no BatchComplete file: it is not processed, and not acknowledged yet."""
