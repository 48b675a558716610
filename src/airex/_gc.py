"""A pause of the cyclic garbage collector around bulk work (loading, checking, distributing,
writing), shared by every part that builds millions of long-lived objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (re-enabled after, if it was on).

    Bulk loads (a registry's identifiers, an invoice's basis rows, a distribution's columns)
    make millions of objects that live on; every so many allocations the collector would
    walk them all, and everything else the process holds, for cycles that none of this code
    makes. Reference counting still frees everything as usual.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
