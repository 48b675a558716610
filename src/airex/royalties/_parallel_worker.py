"""The worker process of :mod:`airex.royalties._parallel`: prices one byte range of a file
(:func:`airex.royalties._parallel_part.work`).

Run as ``python -m airex.royalties._parallel_worker RESULT_FILE`` with the pickled task on
standard input; writes the pickled result to ``RESULT_FILE`` and exits 0 (non-zero, with a
traceback on standard error, when it fails). Nothing else imports this module.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Read the task from standard input, price it, write the result file."""
    if len(argv) != 1:
        print("usage: python -m airex.royalties._parallel_worker RESULT_FILE", file=sys.stderr)
        return 2
    from airex.royalties._parallel_part import work

    work(sys.stdin.buffer.read(), argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
