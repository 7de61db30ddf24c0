"""A cheap HTTP/1.1 load generator: pre-signed requests over keep-alive asyncio streams.

Cheap on purpose, so a measurement is of the server and not of the client: every request
is serialised and signed before the clock starts, and each connection just writes bytes
and reads one response at a time.
"""
import asyncio
import time
from dataclasses import dataclass, field

import psutil


@dataclass
class LoadResult:
    latencies: list = field(default_factory=list)   # seconds, one per answered request
    statuses: dict = field(default_factory=dict)
    answered: dict = field(default_factory=dict)     # connection -> its requests' statuses, in order
    elapsed: float = 0.0
    cpu: float = 0.0                                  # this process's CPU seconds meanwhile

    @property
    def rate(self):
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p):
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def build_request(host, path, body: bytes, headers: dict) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _connection(host, port, requests, deadline, result, ssl, answered):
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl)
    try:
        for raw in requests:
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            answered.append(status)
    finally:
        writer.close()


async def run_load(host, port, request_lists, seconds, ssl=None):
    """One connection per list; each sends its requests in order until the time is up
    or its list runs out (the lists bound the run). ssl: True for https. The answers'
    statuses: result.answered[i] for the i-th list, one per request answered, in order."""
    result = LoadResult()
    result.answered = {i: [] for i in range(len(request_lists))}
    cpu_start = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(host, port, requests, deadline, result, ssl, result.answered[i])
                           for i, requests in enumerate(request_lists)))
    result.elapsed = time.perf_counter() - started
    result.cpu = time.process_time() - cpu_start
    return result


class CpuMeter:
    """CPU seconds (user + system) used meanwhile by a process and its descendants, those
    that ended included (pgbench's backends exit before the run is read)."""

    def __init__(self, pid):
        self.pid = pid

    def _now(self):
        if self.pid is None:
            return float("nan")
        try:
            root = psutil.Process(self.pid)
            times = root.cpu_times()
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return float("nan")
        # children_*: the ones already ended and reaped by the root.
        total = times.user + times.system + times.children_user + times.children_system
        for child in children:
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue  # one that ended between the listing and the reading
            total += times.user + times.system
        return total

    def __enter__(self):
        self.used, self._start = 0.0, self._now()
        return self

    def __exit__(self, *exc):
        self.used = self._now() - self._start
