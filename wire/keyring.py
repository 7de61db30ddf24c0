"""The signing keys one side holds for its counterparts, kept in memory and reloaded.

Each side (the casino, the provider) holds, per counterpart, the keys the counterpart
signs with (to verify its calls) and its own keys at that counterpart (to sign calls to
it). Several may be active at once, which is what makes rotation possible without a
failed call: add the new key on the verifying side, move the signer to it, revoke the
old one.

Verifying a request costs no database round trip: the keys live in memory and are
reloaded every `refresh_seconds` (so a revocation takes effect within that time in every
process), and on demand when a request names a key id not seen yet (so a key added a
moment ago works on its first call). Key-less callers choose those ids, so an on-demand
reload is shared by every caller waiting for one, starts at most once per
`min_interval` per process (a caller waits for the next one, at most that long), and an
id still unknown after one is remembered as unknown for `unknown_ttl` (at most
`unknown_max` ids, the oldest forgotten first): asked again meanwhile, it is refused
without a reload. A key created in this process clears that memory and the wait
(`invalidate`); one created in another is found by the next on-demand reload. Made-up ids
at any rate cost at most one load per `min_interval`: KEY_RELOADS counts them.
"""
import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg2.extensions

from . import refusals
from .metrics import KEY_RELOADS
from .signing import DEFAULT_TOLERANCE_SECONDS, Signature, parse

log = logging.getLogger("wire.keyring")


@dataclass(frozen=True)
class Key:
    kid: str
    counterpart: str            # the other side's code: a provider code at the casino, a casino code at the provider
    counterpart_id: int | None  # its row on this side, when it has one
    secret: bytes = field(repr=False)
    allows_v1: bool = False
    endpoint: str | None = None # for a signing key: where calls signed with it go (None: the default)


@dataclass(frozen=True)
class KeySet:
    verifying: dict[str, Key]   # kid -> Key the counterpart signs its calls with
    signing: dict[str, Key]     # counterpart code -> our newest Key for calls to it

    @classmethod
    def of(cls, verifying: Iterable[Key], signing: Iterable[Key]) -> "KeySet":
        """Later keys win: callers list the environment's keys last-to-override and
        database keys oldest first, so the newest key signs."""
        return cls({k.kid: k for k in verifying}, {k.counterpart: k for k in signing})


T = TypeVar("T")
U = TypeVar("U")


# On-demand reloads (module docstring): at most one per MIN_INTERVAL seconds per process; an
# id still unknown after one is refused without another for UNKNOWN_TTL seconds, among at
# most UNKNOWN_MAX such ids.
MIN_INTERVAL = 0.1
UNKNOWN_TTL = 2.0
UNKNOWN_MAX = 10_000


class Refreshed(Generic[T]):
    """The latest value of `load(cursor)`, reloaded periodically and on demand. At most
    one load runs at a time; callers that need one join it. db: a db.pool.Database (wire
    does not import db). `what` names it in the logs and in KEY_RELOADS (a fixed name)."""

    def __init__(self, db: Any, load: Callable[[psycopg2.extensions.cursor], T], refresh_seconds: float,
                 what: str, min_interval: float = MIN_INTERVAL, unknown_ttl: float = UNKNOWN_TTL,
                 unknown_max: int = UNKNOWN_MAX):
        self.db, self._load, self.refresh_seconds, self.what = db, load, refresh_seconds, what
        self.min_interval, self.unknown_ttl, self.unknown_max = min_interval, unknown_ttl, unknown_max
        self.value: T | None = None
        self._loaded_began = float("-inf")   # when the load behind `value` started
        self._running: tuple[float, asyncio.Future[None]] | None = None  # (began, future) of the load in flight
        self._task: asyncio.Future[None] | None = None
        self._failing = False
        self._demanded_at = float("-inf")    # when the last on-demand load started
        self._unknown: OrderedDict[str, float] = OrderedDict()   # id -> until when it is known unknown

    async def find(self, name: str, lookup: Callable[[], U | None]) -> U | None:
        """lookup() (a search of `value` for `name`), after an on-demand reload of what was
        committed before this call when it finds nothing -- unless `name` was looked for in
        vain within unknown_ttl. None when it is still not there."""
        found = lookup()
        if found is not None:
            return found
        now = time.monotonic()
        until = self._unknown.get(name)
        if until is not None and until > now:
            return None
        await self._demand(now)
        found = lookup()
        if found is None:
            self._unknown[name] = time.monotonic() + self.unknown_ttl
            self._unknown.move_to_end(name)
            while len(self._unknown) > self.unknown_max:
                self._unknown.popitem(last=False)
        else:
            self._unknown.pop(name, None)
        return found

    async def _demand(self, moment: float) -> None:
        """A load begun at or after `moment`, started at most once per min_interval: a caller
        within it waits for the next one (and shares it)."""
        wait = self._demanded_at + self.min_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self.reload_since(moment, demanded=True)

    def invalidate(self) -> None:
        """A key was created in this process: the next request naming an unknown id reloads
        at once, whatever was remembered unknown."""
        self._unknown.clear()
        self._demanded_at = float("-inf")

    async def load_now(self) -> None:
        began = time.monotonic()
        self.value = await self.db.transaction(self._load)
        self._loaded_began = max(self._loaded_began, began)

    async def reload_since(self, moment: float, demanded: bool = False) -> None:
        """Return once `value` comes from a load that began at or after `moment` (so a row
        committed before then is in it), or once such a load failed. demanded: at a
        request's demand (find), counted and spaced by min_interval."""
        while self._loaded_began < moment:
            if self._running is None or self._running[1].done():
                if demanded:
                    self._demanded_at = time.monotonic()
                    KEY_RELOADS.labels(self.what).inc()
                self._running = (time.monotonic(), asyncio.ensure_future(self._reload()))
                await asyncio.shield(self._running[1])
                return
            began, running = self._running
            await asyncio.shield(running)
            if began >= moment:
                return

    async def reload(self) -> None:
        await self.reload_since(time.monotonic())

    async def _reload(self) -> None:
        try:
            await self.load_now()
            if self._failing:
                log.info("%s reloaded", self.what)
            self._failing = False
        except Exception as exc:  # the database may be down: keep serving the last keys
            if not self._failing:
                log.warning("%s not reloaded, keeping the last ones: %s", self.what, type(exc).__name__)
            self._failing = True

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.refresh_seconds)
                await self.reload()
        self._task = asyncio.ensure_future(loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class KeyRing:
    """Verifies a side's incoming signatures and gives the key to sign outgoing calls."""

    def __init__(self, db: Any, load: Callable[[psycopg2.extensions.cursor], KeySet], header: str,
                 refresh_seconds: float = 1.0, tolerance: float = DEFAULT_TOLERANCE_SECONDS, what: str = "keys"):
        self.header = header
        self.tolerance = tolerance
        self.keys = Refreshed(db, load, refresh_seconds, what)

    @property
    def _set(self) -> KeySet:
        return self.keys.value or KeySet({}, {})

    async def authenticate(self, method: str, path: str, body: bytes, header_value: str | None,
                           now: float | None = None) -> Key:
        """The key that signed this request, or 401 INVALID_SIGNATURE."""
        signature = parse(header_value)
        key = None
        if signature is not None and signature.fresh(now, self.tolerance):
            # A key (or the environment key's counterpart row) added a moment ago: load
            # what was committed before this request arrived (Refreshed.find: shared,
            # spaced, and not again soon for a kid that is still unknown).
            def matched() -> Key | None:
                found = self._match(signature, method, path, body)
                return found if found is not None and found.counterpart_id is not None else None
            key = await self.keys.find(f"kid:{signature.kid}" if signature.kid else "v1", matched)
            if key is None:
                key = self._match(signature, method, path, body)
        if key is None:
            raise refusals.error("INVALID_SIGNATURE", self.header)
        return key

    def _match(self, signature: Signature, method: str, path: str, body: bytes) -> Key | None:
        if signature.kid is None:       # v1
            return next((k for k in self._set.verifying.values()
                         if k.allows_v1 and signature.matches(k.secret, method, path, body)), None)
        candidate = self._set.verifying.get(signature.kid)
        return candidate if candidate is not None and signature.matches(candidate.secret, method, path, body) else None

    def signer(self, counterpart: str) -> Key | None:
        """Our newest active key for calls to `counterpart`, or None when we hold none."""
        return self._set.signing.get(counterpart)

    async def signing_key(self, counterpart: str) -> Key | None:
        """signer(), after loading what was committed until now when no key is known yet:
        a key added a moment ago signs its first call (one shared reload at a time)."""
        return await self.keys.find(f"signer:{counterpart}", lambda: self.signer(counterpart))

    async def start(self) -> None:
        """Load once, raising what the first load raises (a wrong KEYS_ENCRYPTION_KEY must
        stop the start-up), then keep reloading in the background."""
        await self.keys.load_now()
        self.keys.start()

    def stop(self) -> None:
        self.keys.stop()
