"""Per-process limits on client-facing work that holds resources for long.

A simulated round keeps a slot of the provider client and a stream of callbacks busy for
its whole length; past a few at once, every further one only makes all of them -- and
every launch -- slower. The excess is refused at once with 429, which a caller can retry,
rather than queued into timeouts after money may already have moved.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from . import refusals


class ConcurrencyLimit:
    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.active = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        # One event loop per process: the check and the increment cannot interleave.
        if self.active >= self.limit:
            raise refusals.error("TOO_MANY_REQUESTS", self.limit, self.what)
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
