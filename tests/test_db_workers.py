"""The database's worker threads (db/workers.py): a call's result or error reaches the loop
that queued it; a call cancelled while still queued never runs, one already running runs to
its end; close lets every queued and running call finish, and takes no call after."""
import asyncio
import threading

import pytest

from db.workers import Workers


def test_a_calls_result_and_error_reach_the_loop_that_queued_it():
    workers = Workers(2, "test-db")

    def fail():
        raise KeyError("from the worker")

    async def main():
        loop = asyncio.get_running_loop()
        answered, failed = loop.create_future(), loop.create_future()
        workers.submit(answered, lambda a, b=0: (threading.current_thread().name, a + b), 1, b=2)
        workers.submit(failed, fail)
        name, total = await answered
        assert name.startswith("test-db_") and total == 3
        with pytest.raises(KeyError, match="from the worker"):
            await failed

    try:
        asyncio.run(main())
    finally:
        workers.shutdown()


def test_a_call_cancelled_while_queued_never_runs_and_a_running_one_runs_to_its_end():
    workers = Workers(1, "test-db")
    started, release = threading.Event(), threading.Event()
    ran = []

    def blocking():
        started.set()
        release.wait()
        ran.append("first")
        return "first"

    async def main():
        loop = asyncio.get_running_loop()
        first, second, third = (loop.create_future() for _ in range(3))
        running = workers.submit(first, blocking)
        queued = workers.submit(second, ran.append, "second")
        workers.submit(third, ran.append, "third")
        assert queued.cancel()            # still behind the first: it will never run
        assert not queued.cancel()
        assert await asyncio.to_thread(started.wait, 10)
        assert not running.cancel()       # its thread has it: it runs to its end
        release.set()
        assert await first == "first"
        await third
        assert not second.done()          # nothing ever answers a cancelled call
        assert ran == ["first", "third"]

    try:
        asyncio.run(main())
    finally:
        release.set()
        workers.shutdown()


def test_close_lets_queued_and_running_calls_finish_then_takes_no_more():
    workers = Workers(2, "test-db")
    release = threading.Event()
    finished = []

    def work(n):
        release.wait()
        finished.append(n)

    async def main():
        loop = asyncio.get_running_loop()
        for n in range(5):      # two run, three wait in the queue
            workers.submit(loop.create_future(), work, n)
        closing = threading.Thread(target=workers.shutdown)
        closing.start()
        release.set()
        await asyncio.to_thread(closing.join)
        assert sorted(finished) == [0, 1, 2, 3, 4]
        with pytest.raises(RuntimeError, match="closed"):
            workers.submit(loop.create_future(), work, 5)

    asyncio.run(main())
    assert not any(thread.name.startswith("test-db_") for thread in threading.enumerate())
