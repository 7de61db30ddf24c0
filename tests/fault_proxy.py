"""A TCP proxy between the provider and the casino that loses replies on purpose.

For a path it is told to cut, it forwards the request, lets the casino answer in full,
and then closes the provider's connection without passing the answer on: the casino has
applied the call, the provider cannot know it. That is the worst case a retrying client
must survive.
"""
import asyncio
from collections import Counter

from tests.loop_server import LoopServer


class FaultProxy(LoopServer):
    def __init__(self):
        super().__init__()
        self.upstream = None          # (host, port), set once the casino listens
        self.cut = Counter()          # path -> how many more replies to lose
        self.refuse = Counter()       # path -> how many more requests to drop unsent (casino "down")
        self.forwarded = Counter()    # path -> requests passed to the casino
        self.lost = Counter()         # path -> replies lost

    async def _handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            path = head.split(b" ", 2)[1].decode()
            if self.refuse[path] > 0:
                self.refuse[path] -= 1
                return
            # Tornado's client sends "Connection: close", so the casino's answer ends at EOF.
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            up_writer.write(head + body)
            await up_writer.drain()
            answer = await up_reader.read()
            up_writer.close()
            self.forwarded[path] += 1
            if self.cut[path] > 0:
                self.cut[path] -= 1
                self.lost[path] += 1
                return
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
