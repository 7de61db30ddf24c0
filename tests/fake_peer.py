"""A counterpart that answers what a test tells it to: garbage, redirects, wrong types.

An asyncio HTTP/1.1 server on 127.0.0.1 in a thread of its own. `answers[path]` is a
list of raw answers (status, body bytes, extra headers) given in turn, round and round;
a path with no answers gets `default`. Every request is recorded by path. `pause`: seconds
the peer takes over each answer (a slow provider; 0 by default).
"""
import asyncio
from collections import Counter

from tests.loop_server import LoopServer

REASONS = {200: "OK", 307: "Temporary Redirect", 404: "Not Found", 500: "Internal Server Error"}


class FakePeer(LoopServer):
    def __init__(self, default=(404, b'{"error":{"code":"NOT_FOUND","message":"no"}}', {})):
        super().__init__()
        self.answers = {}
        self.default = default
        self.received = Counter()     # path -> requests
        self._given = Counter()       # path -> answers given
        self.pause = 0.0

    def _next_answer(self, path):
        given = self.answers.get(path)
        if not given:
            return self.default
        answer = given[self._given[path] % len(given)]
        self._given[path] += 1
        return answer

    async def _handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            path = head.split(b" ", 2)[1].decode()
            self.received[path] += 1
            status, body, headers = self._next_answer(path)
            if self.pause:
                await asyncio.sleep(self.pause)
            lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}",
                     "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close",
                     *(f"{name}: {value}" for name, value in headers.items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
