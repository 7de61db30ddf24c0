"""The back office's base handler: path and query parameters, what a tool's key may
write on, the reports' pool and the read-only views' database."""
import asyncio

from db.pool import DatabaseUnavailable
from wire.addresses import url_refusal
from wire.handlers import BODY_METHODS, JsonHandler
from wire.validation import Schema, parse_params

from .. import operators, origins


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
    _report_call: "asyncio.Future | None" = None
    _client_gone = False

    async def prepare(self):
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

    async def on_report_db(self, fn, *args):
        """fn(cursor, *args) on the reports' pool (read-only, bounded by REPORT_TIMEOUT), and
        cancelled -- its statement too -- when the client goes away: a report nobody waits
        for no longer holds one of the pool's few connections."""
        self._report_call = asyncio.ensure_future(self.settings["report_db"].transaction(fn, *args))
        try:
            return await self._report_call
        except asyncio.CancelledError:
            if not self._client_gone:
                raise
            raise DatabaseUnavailable("the client went away: its report was cancelled") from None

    def on_connection_close(self):
        self._client_gone = True
        if self._report_call is not None:
            self._report_call.cancel()
        super().on_connection_close()

    @property
    def read_db(self):
        """Where the read-only views read: DATABASE_READ_URL's replica when set (it may be
        slightly behind the primary), else the primary. Writes always use self.db."""
        return self.settings["read_db"]

    async def address_refused(self, url):
        """The refusal of an outbound URL (a provider's apiEndpoint, a register's URL) whose
        host resolves outside what the address policy allows (wire/addresses.py: public
        addresses, or OUTBOUND_ALLOWED_NETWORKS), checked here and again at each connection;
        falsy when it is allowed, or when there is no URL."""
        return url and await url_refusal(url, self.settings["outbound_addresses"])

    @property
    def session_idle_timeout(self):
        return self.settings["session_idle_timeout"]
