"""The Tornado application: both systems' routes, the operations endpoints (health,
metrics, the OpenAPI document), the dependencies handlers use, and in-flight tracking.

Each side owns its routes (casino/handlers.py, provider/handlers.py); this module only
assembles them, which is also what the OpenAPI document is built from (service/openapi.py).
"""
import asyncio
from typing import cast
from urllib.parse import urlsplit

import tornado.web

import casino.admin
import casino.credentials
import casino.handlers
import casino.report_handlers
import casino.support_page
import provider.credentials
import provider.handlers
from casino.exclusion_register import ExclusionRegister
from casino.limits import ConcurrencyLimit
from casino.operators import OperatorKeys
from casino.provider_link import ProviderLink
from casino.reconciliation import FeedBounds
from db.pool import DatabaseUnavailable
from provider.casino_client import CasinoClient
from wire import logs, metrics
from wire.addresses import AddressPolicy
from wire.handlers import JsonHandler, NotFoundHandler, route_pattern
from wire.openapi import build, error_codes, render
from wire.outbound import OutboundLimits

from .settings import Settings


class HealthHandler(JsonHandler):
    """Up and the database reachable (the original probe, kept for its callers)."""
    async def get(self):
        if await self.database_up():
            self.render_json(200, {"status": "ok", "database": "up"})
        else:
            self.render_json(503, {"status": "unavailable", "database": "down"})

    async def database_up(self):
        try:
            await self.db.transaction(lambda cur: cur.execute("SELECT 1"))
        except DatabaseUnavailable:
            return False
        return True


class LiveHandler(JsonHandler):
    """The process answers: restart it only when this fails. Touches nothing else."""
    async def get(self):
        self.render_json(200, {"status": "ok"})


class ReadyHandler(HealthHandler):
    """Send traffic here: the database answers and no shutdown has begun."""
    async def get(self):
        if cast("Application", self.application).stopping:
            self.render_json(503, {"status": "stopping", "database": "unknown"})
        elif not await self.database_up():
            self.render_json(503, {"status": "unavailable", "database": "down"})
        else:
            self.render_json(200, {"status": "ok", "database": "up"})


class MetricsHandler(JsonHandler):
    # Answered without render_json on purpose: scrapes get no access line and no metrics
    # of their own, so a 15-second scrape interval does not flood either.
    async def get(self):
        content_type, body = metrics.exposition()
        self.set_header("Content-Type", content_type)
        self.finish(body)


class OpenApiHandler(JsonHandler):
    """The document of what this server answers in its mode: wire/openapi.json with the test
    driver routed, the same without simulateRound otherwise (built with the application)."""
    async def get(self):
        self.render_json(200, self.settings["document"])


OPERATIONS_ROUTES = [(r"/health", HealthHandler), (r"/health/live", LiveHandler),
                     (r"/health/ready", ReadyHandler), (r"/openapi.json", OpenApiHandler),
                     (r"/metrics", MetricsHandler)]


class InFlight:
    """Counts requests being handled, so shutdown can wait for them."""

    def __init__(self):
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def started(self):
        self.count += 1
        self.idle.clear()

    def finished(self):
        self.count -= 1
        if self.count == 0:
            self.idle.set()


def json_routes(test_driver=True):
    """Every JSON endpoint of both systems, as (documented path, handler) pairs."""
    return [*casino.handlers.routes(test_driver), *casino.admin.routes(), *casino.report_handlers.routes(),
            *provider.handlers.routes()]


class Application(tornado.web.Application):
    """db: a db.pool.Database; read_db: a read-only one on a replica for the back office's
    views (DATABASE_READ_URL), None to read from db; report_db: a read-only one of its own
    for the reports, None to read from read_db; own_url: where this process answers, the
    default address of both systems for each other."""

    def __init__(self, db, settings: Settings, own_url, read_db=None, report_db=None):
        secrets = settings.secrets
        assert secrets is not None, "read_settings() reads them"
        self.in_flight = InFlight()
        # Set when a shutdown begins: /health/ready answers 503 from then on.
        self.stopping = False
        test_driver = settings.test_driver or settings.demo or secrets.development
        casino_keys = casino.credentials.keyring(db, secrets, settings.key_refresh_seconds,
                                                 settings.signature_tolerance)
        provider_keys = provider.credentials.keyring(db, secrets, settings.key_refresh_seconds,
                                                     settings.signature_tolerance)
        operators = OperatorKeys(db, secrets.operator_key, settings.key_refresh_seconds)
        # Where outbound calls may go (wire/addresses.py): public addresses, the allowed
        # networks, and this process's own address (the default of both directions).
        own = urlsplit(own_url)
        addresses = AddressPolicy(settings.outbound_networks, frozenset({(own.hostname, own.port)}))
        self.credentials = [casino_keys, provider_keys, operators]
        routes = json_routes(test_driver)
        document = build(routes, development=secrets.development)
        metrics.know_codes(error_codes(document))
        super().__init__(
            # Each route hands its handler its template (JsonHandler.route), what the metrics name it by.
            [*((path, handler, {"route": path}) for path, handler in OPERATIONS_ROUTES),
             *((route_pattern(path), handler, {"route": path}) for path, handler in routes),
             *((pattern, handler, {"route": pattern}) for pattern, handler in casino.support_page.routes())],
            default_handler_class=NotFoundHandler,
            log_function=logs.logged_by_handler,
            # What handlers reach as self.db, self.provider_link, ... (wire/handlers.py).
            db=db,
            # Raised by db: answered 503 SERVICE_UNAVAILABLE (wire knows no database).
            unavailable_errors=(DatabaseUnavailable,),
            # Only the back office's read-only views use it (casino/admin/); health
            # checks db alone, and every wallet call reads the primary's latest commit.
            read_db=read_db or db,
            # The reports' own pool (casino/report_handlers.py), bounded by REPORT_TIMEOUT.
            report_db=report_db or read_db or db,
            development=secrets.development,
            document=render(document),   # /openapi.json: only what is routed here
            casino_keys=casino_keys,
            provider_keys=provider_keys,
            operators=operators,
            casino_code=secrets.casino_code,
            keys_box=secrets.box,   # seals the provider keys the back office adds
            session_idle_timeout=settings.session_idle,
            # The days the reports and reconciliations count in (casino/reports.py).
            report_time_zone=settings.report_time_zone,
            # What a reconciliation holds of a provider's feed, and for how long it reads it.
            feed_bounds=FeedBounds(settings.feed_max_rounds, settings.feed_deadline),
            # The support page's cookies carry the Secure flag (casino/support_page.py).
            support_cookie_secure=settings.support_cookies_secure,
            # Both systems reach each other over HTTP, by default at this process's address,
            # each direction on a client of its own so neither can starve the other.
            provider_link=ProviderLink(settings.provider_url or own_url, casino_keys,
                                       OutboundLimits(max_clients=settings.provider_link_max_clients), addresses),
            casino_client=CasinoClient(provider_keys, settings.casino_url or own_url,
                                       limits=OutboundLimits(max_clients=settings.casino_client_max_clients),
                                       addresses=addresses),
            # The back office checks a provider's apiEndpoint against it when one is set.
            outbound_addresses=addresses,
            simulate_limit=ConcurrencyLimit(settings.simulate_concurrency, "simulated rounds"),
            # Player protection: the market of a player registered without one, and the
            # external self-exclusion registers' client (launch and deposit ask it).
            default_jurisdiction=settings.default_jurisdiction,
            exclusion_register=ExclusionRegister(settings.register_timeout, settings.register_cache_seconds,
                                                 addresses=addresses),
        )

    async def load_credentials(self):
        for keys in self.credentials:
            await keys.start()

    def stop_credentials(self):
        for keys in self.credentials:
            keys.stop()

    def close_clients(self):
        self.settings["provider_link"].close()
        self.settings["casino_client"].close()
        self.settings["exclusion_register"].close()
