"""The threads db/pool.py runs its blocking psycopg2 calls on, and how a call's outcome
gets back to the event loop.

What concurrent.futures.ThreadPoolExecutor with a done-callback did for every call, less
what it builds and signals on both threads that nothing here needs: a Future (a Condition
and its lock, taken when the call starts, when it ends and for its callbacks), an idle
semaphore (a Condition too, taken at each submit and after each call) and the callback
list (docs/performance.md, "Issue 23"). A call is queued on one SimpleQueue; a worker takes
it, runs it, and hands its result or error to the loop by one call_soon_threadsafe. A call
still queued can be cancelled and then never runs, as a queued Future's could.

The threads start with the first calls (one per call until `size` run) and are daemon
threads: Database.close() is the orderly end, which lets every queued and running call
finish and then joins them.
"""
import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_QUEUED, _RUNNING, _CANCELLED = 0, 1, 2
# Decides, between the loop's cancel() and a worker taking the call, which came first.
_claim = threading.Lock()


def _settle(outcome: "asyncio.Future[Any]", error: BaseException | None, result: Any) -> None:
    """On the loop: the call's result or error, unless its waiter has gone (timed out)."""
    if outcome.done():
        return
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(result)


class Job:
    """One queued call."""
    __slots__ = ("_fn", "_args", "_kwargs", "_loop", "_outcome", "_state")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 loop: asyncio.AbstractEventLoop, outcome: "asyncio.Future[Any]"):
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._loop, self._outcome = loop, outcome
        self._state = _QUEUED

    def cancel(self) -> bool:
        """True when the call had not started: it never will."""
        with _claim:
            if self._state != _QUEUED:
                return False
            self._state = _CANCELLED
            return True

    def run(self) -> None:
        with _claim:
            if self._state != _QUEUED:
                return
            self._state = _RUNNING
        error: BaseException | None = None
        result = None
        try:
            result = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # whatever it raised is its caller's, on the loop
            error = exc
        try:
            self._loop.call_soon_threadsafe(_settle, self._outcome, error, result)
        except RuntimeError:
            pass    # the loop was closed meanwhile: no one waits for this outcome


class Workers:
    """`size` threads named `name`_N that run the calls submitted, in the order submitted."""

    def __init__(self, size: int, name: str):
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, outcome: "asyncio.Future[T]", fn: Callable[..., T], *args: Any, **kwargs: Any) -> Job:
        """Queue fn(*args, **kwargs); its result or error is set on outcome (a future of the
        running loop) when it has run."""
        if self._closed:
            raise RuntimeError("cannot queue a database call after the pool was closed")
        job = Job(fn, args, kwargs, outcome.get_loop(), outcome)
        self._queue.put(job)
        if len(self._threads) < self._size:
            thread = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return job

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            job.run()
            del job     # not kept alive while this thread waits for the next

    def shutdown(self) -> None:
        """Let every call queued and running finish, then end the threads."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
