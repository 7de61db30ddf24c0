"""The back office's base handler: path and query parameters, what a tool's key may
write on, the reports' pool and the read-only views' database."""
import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from db.pool import Database, DatabaseUnavailable
from wire.addresses import url_refusal
from wire.handlers import BODY_METHODS, JsonHandler
from wire.validation import Schema, parse_params

from .. import operators, origins

T = TypeVar("T")


class AdminHandler(JsonHandler):
    """An operator endpoint. `parameters`: the path's (in the route as {name}); `query`:
    the query string's; both Fields, parsed after the key is checked, into self.params.
    `writes_on`: what its write (POST, PUT) writes on, (kind, the parameter or body field
    holding its id), which a tool's key may write only when its own tool made it
    (casino/origins.py)."""
    parameters: Schema = {}
    query: Schema = {}
    writes_on: tuple[str, str] | None = None
    status = 200
    _report_call: "asyncio.Future[Any] | None" = None
    # Every back-office endpoint needs an operator key (open_in_development stays False),
    # so prepare() always sets one.
    operator: operators.Operator
    params: dict[str, Any]
    _client_gone = False

    async def prepare(self) -> None:
        await super().prepare()
        query = {name: self.get_query_argument(name) for name in self.query
                 if self.get_query_argument(name, None) is not None}
        self.params = {**parse_params(self.path_kwargs, self.parameters), **parse_params(query, self.query)}
        if self.writes_on is not None and self.request.method in BODY_METHODS:
            kind, name = self.writes_on
            await origins.check(self.db, self.operator, kind, self.params.get(name, self.body.get(name)))
            if self.operator_scope == operators.PROVIDER_TRUST:
                refused = origins.trust_refusal(self.operator)
                if refused is not None:
                    raise refused

    async def on_report_db(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(cursor, *args) on the reports' pool (read-only, bounded by REPORT_TIMEOUT), and
        cancelled -- its statement too -- when the client goes away: a report nobody waits
        for no longer holds one of the pool's few connections."""
        report_db: Database = self.settings["report_db"]
        call = asyncio.ensure_future(report_db.transaction(fn, *args))
        self._report_call = call
        try:
            return await call
        except asyncio.CancelledError:
            if not self._client_gone:
                raise
            raise DatabaseUnavailable("the client went away: its report was cancelled") from None

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._report_call is not None:
            self._report_call.cancel()
        super().on_connection_close()

    @property
    def db(self) -> Database:
        """The primary (wire's JsonHandler types it Any: wire imports no db)."""
        database: Database = self.settings["db"]
        return database

    @property
    def read_db(self) -> Database:
        """Where the read-only views read: DATABASE_READ_URL's replica when set (it may be
        slightly behind the primary), else the primary. Writes always use self.db."""
        database: Database = self.settings["read_db"]
        return database

    async def address_refused(self, url: str | None) -> str | None:
        """The refusal of an outbound URL (a provider's apiEndpoint, a register's URL) whose
        host resolves outside what the address policy allows (wire/addresses.py: public
        addresses, or OUTBOUND_ALLOWED_NETWORKS), checked here and again at each connection;
        None when it is allowed, or when there is no URL."""
        return await url_refusal(url, self.settings["outbound_addresses"]) if url else None

    @property
    def session_idle_timeout(self) -> timedelta:
        idle: timedelta = self.settings["session_idle_timeout"]
        return idle
