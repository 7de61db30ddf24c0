"""Every setting of the service, read once -- flags over environment over defaults -- and
validated before anything starts.

`read_settings(argv, environ)` returns a frozen `Settings` or raises `SettingsError`, whose
message is the one line the server prints (`error: PORT=abc: not an integer`). OPTIONS is
the single list of what can be set; the README's configuration table is checked against
it by tests/test_settings.py. The secrets (CASINO_SECRET, ...) are parsed by
wire/secrets_env.py, called from here, so they too are read once.
"""
import argparse
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

import psycopg2.extensions

from casino import reports, sessions
from casino.reconciliation import FeedBounds
from db import pool
from wire import transport
from wire.addresses import LOOPBACK, parse_networks
from wire.secretbox import SecretBoxError
from wire.secrets_env import DEV_SECRETS, Secrets, read_secrets
from wire.validation import JURISDICTION_CODE

LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A setting that cannot be used; the message is the whole line to print."""


# --- parsers: text -> value, or ValueError with what was expected ---------------------

def _number(kind, low=None, high=None):
    noun = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"not {noun}") from None
        if kind is float and not math.isfinite(value):
            raise ValueError(f"not {noun}")
        if low is not None and value < low:
            raise ValueError(f"must be at least {low}")
        if high is not None and value > high:
            raise ValueError(f"must be at most {high}")
        return value
    return parse


def _choice(choices):
    def parse(text):
        # Case does not matter: LOG_FORMAT=JSON is json, LOG_LEVEL=DEBUG is debug.
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value
    return parse


def _text(text):
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _database_url(text):
    try:
        psycopg2.extensions.parse_dsn(text)
    except psycopg2.ProgrammingError as exc:
        raise ValueError(f"malformed ({_first_line(exc)}); expected "
                         "postgresql://user:password@host:port/database") from None
    return text


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _jurisdiction_code(text):
    if not JURISDICTION_CODE.check(text):
        raise ValueError("not a jurisdiction code (2-16 upper-case letters, digits or '-')")
    return text


def _time_of_day_or_off(text):
    value = text.strip().lower()
    if value == "off":
        return None
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}", value):
        raise ValueError("must be off or a time of day HH:MM")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError("must be off or a time of day HH:MM") from None


def _on_off(text):
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise ValueError("must be on or off")
    return value == "on"


PORT = _number(int, 0, 65535)
COUNT = _number(int, 1)               # at least one
SECONDS = pool.positive_seconds     # above zero: the rule the tools that read DB_CALL_TIMEOUT and
                                     # SESSION_IDLE_TIMEOUT themselves apply too
SECONDS_OR_OFF = _number(float, 0)     # zero turns the thing off


@dataclass(frozen=True)
class Option:
    """One setting: the Settings field it fills, its flag and/or environment variable,
    its default (None: unset) and its parser (None: parsed elsewhere, see `secrets`)."""
    field: str
    env: str | None
    flag: str | None
    default: Any
    parse: Callable[[str], Any] | None
    help: str


OPTIONS = (
    Option("host", "HOST", "--host", "127.0.0.1", _text, "address to listen on"),
    Option("port", "PORT", "--port", 8000, PORT, "port to listen on, 0 for any free one"),
    Option("data_dir", "CASINO_DATA_DIR", "--data-dir", "./.data/postgres", _text,
           "embedded PostgreSQL data directory"),
    Option("database_url", "DATABASE_URL", None, None, _database_url, "use this PostgreSQL (>= 15)"),
    Option("database_read_url", "DATABASE_READ_URL", None, None, _database_url,
           "a replica of it serving the back office's read-only views"),
    # Small on purpose: each call is one short statement, and fewer backends contending
    # for a hot wallet's row lock serve it faster (docs/performance.md). The service's
    # budget, not each process's: a second process that brought its own would double the
    # backends queueing on a hot wallet's lock, and be slower than one.
    Option("pool_size", "DB_POOL_SIZE", "--pool-size", 4, COUNT,
           "database connections of the service, shared out among its --processes workers (at least one each)"),
    Option("processes", "PROCESSES", "--processes", 1, _number(int, 0),
           "worker processes sharing the port; 0 = one per core"),
    Option("log_format", "LOG_FORMAT", "--log-format", None, _choice(LOG_FORMATS),
           "log lines as json or text (default: json unless on a terminal)"),
    Option("log_level", "LOG_LEVEL", "--log-level", "info", _choice(LOG_LEVELS),
           "lowest level logged: debug, info, warning or error"),
    Option("casino_url", "CASINO_URL", None, None, _text, "where the provider calls the casino's callbacks"),
    Option("provider_url", "PROVIDER_URL", None, None, _text, "where the casino calls hosted providers"),
    Option("outbound_allowed_networks", "OUTBOUND_ALLOWED_NETWORKS", None, (), parse_networks,
           "networks outbound calls may reach although not public, comma-separated (10.20.0.0/16, ::1); "
           "development mode adds loopback"),
    Option("reconcile_interval", "RECONCILE_INTERVAL", None, 60.0, SECONDS_OR_OFF,
           "seconds between reconciliation passes; 0 = off"),
    Option("reconcile_stale_after", "RECONCILE_STALE_AFTER", None, 30.0, SECONDS_OR_OFF,
           "seconds before a pending provider call is reconciled"),
    Option("round_timeout", "ROUND_TIMEOUT", None, 300.0, SECONDS, "seconds before an open round is closed"),
    Option("session_idle_timeout", "SESSION_IDLE_TIMEOUT", None, sessions.DEFAULT_IDLE_TIMEOUT_SECONDS,
           SECONDS,
           "seconds without a bet after which a casino session expires"),
    Option("bonus_expiry_interval", "BONUS_EXPIRY_INTERVAL", None, 60.0, SECONDS_OR_OFF,
           "seconds between passes forfeiting bonuses past their expiry; 0 = off"),
    Option("report_timeout", "REPORT_TIMEOUT", None, 300.0, SECONDS,
           "seconds a report's database call may take (on a pool of its own) before it is answered 503"),
    Option("report_time_zone", "REPORT_TIME_ZONE", None, reports.DEFAULT_TIME_ZONE, reports.time_zone,
           "the time zone whose days the reports and reconciliations count in"),
    Option("daily_reconciliation", "DAILY_RECONCILIATION", None, None, _time_of_day_or_off,
           "off, or the time of day (HH:MM in REPORT_TIME_ZONE) the casino reconciles the day before "
           "with every provider"),
    Option("feed_max_rounds", "FEED_MAX_ROUNDS", None, FeedBounds.max_rounds, COUNT,
           "rounds of a provider's feed a reconciliation holds at most; more: it fails"),
    Option("feed_deadline", "FEED_DEADLINE", None, FeedBounds.deadline, SECONDS,
           "seconds a reconciliation may take to read a provider's whole feed; longer: it fails"),
    Option("support_cookie_secure", "SUPPORT_COOKIE_SECURE", None, None, _on_off,
           "on: the support page's cookies are Secure whatever the request's scheme (behind a proxy that "
           "ends TLS); off: only over https. Default: on, off in development mode"),
    Option("simulate_concurrency", "SIMULATE_CONCURRENCY", None, 4, COUNT,
           "simulateRound calls played at once per process"),
    Option("provider_link_max_clients", "PROVIDER_LINK_MAX_CLIENTS", None, 16, COUNT,
           "concurrent calls of the casino's client for providers"),
    Option("casino_client_max_clients", "CASINO_CLIENT_MAX_CLIENTS", None, 16, COUNT,
           "concurrent calls of the provider's client for the casino"),
    Option("header_timeout", "HEADER_TIMEOUT", None, transport.Limits.header_timeout, SECONDS,
           "seconds a connection has to send a request's headers"),
    Option("body_timeout", "BODY_TIMEOUT", None, transport.Limits.body_timeout, SECONDS,
           "seconds a request's body has to arrive"),
    Option("idle_timeout", "IDLE_TIMEOUT", None, transport.Limits.idle_timeout, SECONDS,
           "seconds a kept-alive connection may wait for its next request"),
    Option("max_connections", "MAX_CONNECTIONS", None, transport.Limits.max_connections, COUNT,
           "open connections per process"),
    Option("key_refresh_seconds", "KEY_REFRESH_SECONDS", None, 1.0, SECONDS,
           "how often each process reloads signing and operator keys"),
    Option("signature_tolerance", "SIGNATURE_TOLERANCE", None, 300.0, SECONDS,
           "seconds a v2 signature's timestamp may differ from the clock"),
    Option("db_call_timeout", "DB_CALL_TIMEOUT", None, pool.DEFAULT_CALL_TIMEOUT, SECONDS,
           "seconds a database call may take, queueing included, before it is cancelled and answered 503"),
    Option("default_jurisdiction", "DEFAULT_JURISDICTION", None, "DEFAULT", _jurisdiction_code,
           "the jurisdiction of a player registered without one (a row of CASINO_JURISDICTIONS)"),
    Option("register_timeout", "REGISTER_TIMEOUT", None, 3.0, SECONDS,
           "seconds an external self-exclusion register has to answer, connecting included"),
    Option("register_cache_seconds", "REGISTER_CACHE_SECONDS", None, 900.0, SECONDS_OR_OFF,
           "seconds a register's answer about a player is reused; 0 = ask every time"),
    Option("shutdown_delay", "SHUTDOWN_DELAY", None, 0.0, SECONDS_OR_OFF,
           "seconds a stopping server keeps serving, /health/ready answering 503, before it "
           "stops taking connections"),
    # Read by wire/secrets_env.py (into Settings.secrets), listed so the table is whole.
    *(Option("secrets", name, None, None, None, "see wire/secrets_env.py")
      for name in (*DEV_SECRETS, "KEYS_ENCRYPTION_KEY", "OPERATOR_KEY", "CASINO_CODE")),
)

# Settings whose value may hold a password: never repeated in an error line.
SECRET_VALUED = ("database_url", "database_read_url")

# Switches: flags only, no value.
SWITCHES = {
    "--no-demo-data": "do not load sql/demo.sql at start (development mode loads it by default)",
    "--demo-data": "load sql/demo.sql at start outside development mode too (its start-up lines say so)",
    "--test-driver": "serve POST /casino/simulateRound (always on in development mode)",
    "--demo": "play one demo round through /casino/simulateRound, print it, and exit "
              "(0 when every step went as scripted)",
}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./.data/postgres"
    database_url: str | None = field(default=None, repr=False)
    database_read_url: str | None = field(default=None, repr=False)
    pool_size: int = 4
    processes: int = 1
    log_format: str | None = None
    log_level: str = "info"
    casino_url: str | None = None
    provider_url: str | None = None
    outbound_allowed_networks: tuple = ()
    reconcile_interval: float = 60.0
    reconcile_stale_after: float = 30.0
    round_timeout: float = 300.0
    session_idle_timeout: float = sessions.DEFAULT_IDLE_TIMEOUT_SECONDS
    bonus_expiry_interval: float = 60.0
    report_timeout: float = 300.0
    report_time_zone: str = "UTC"
    daily_reconciliation: time | None = None
    feed_max_rounds: int = FeedBounds.max_rounds
    feed_deadline: float = FeedBounds.deadline
    support_cookie_secure: bool | None = None
    simulate_concurrency: int = 4
    provider_link_max_clients: int = 16
    casino_client_max_clients: int = 16
    header_timeout: float = transport.Limits.header_timeout
    body_timeout: float = transport.Limits.body_timeout
    idle_timeout: float = transport.Limits.idle_timeout
    max_connections: int = transport.Limits.max_connections
    key_refresh_seconds: float = 1.0
    signature_tolerance: float = 300.0
    db_call_timeout: float = pool.DEFAULT_CALL_TIMEOUT
    default_jurisdiction: str = "DEFAULT"
    register_timeout: float = 3.0
    register_cache_seconds: float = 900.0
    shutdown_delay: float = 0.0
    no_demo_data: bool = False
    demo_data: bool = False
    test_driver: bool = False
    demo: bool = False
    # Internal: set by the supervisor for its workers.
    worker: bool = False
    no_reconcile: bool = False
    secrets: Secrets | None = field(default=None, repr=False)

    @property
    def development(self) -> bool:
        return self.secrets is not None and self.secrets.development

    @property
    def loads_demo_data(self):
        """The demo's provider, casino and players -- credentials anyone can read in this
        repository -- are loaded by development mode, and elsewhere only when asked for."""
        return not self.no_demo_data and (self.demo_data or self.development)

    @property
    def support_cookies_secure(self):
        """SUPPORT_COOKIE_SECURE, else on outside development mode: a production server is
        reached over https, often through a proxy that ends TLS and forwards plain http."""
        return self.support_cookie_secure if self.support_cookie_secure is not None else not self.development

    @property
    def outbound_networks(self):
        """Networks outbound calls may reach although not public: OUTBOUND_ALLOWED_NETWORKS,
        and loopback in development mode (wire/addresses.py)."""
        return self.outbound_allowed_networks + (LOOPBACK if self.development else ())

    @property
    def transport_limits(self):
        return transport.Limits(self.header_timeout, self.body_timeout, self.idle_timeout, self.max_connections)

    @property
    def session_idle(self):
        return timedelta(seconds=self.session_idle_timeout)

    @property
    def worker_processes(self):
        """How many processes serve: --processes, 0 meaning one per core."""
        return self.processes or os.cpu_count()

    @property
    def worker_pool_size(self):
        """Each --processes worker's share of DB_POOL_SIZE, at least one connection."""
        return max(1, self.pool_size // self.worker_processes)


def _parser():
    parser = argparse.ArgumentParser(prog="python server.py", description="Casino + game provider service")
    for option in OPTIONS:
        if option.flag:
            # Taken as text and parsed below, like the environment, for the same one-line errors.
            parser.add_argument(option.flag, dest=option.field, default=None,
                                help=f"{option.help} ({option.env}, default {option.default})")
    for flag, help_text in SWITCHES.items():
        parser.add_argument(flag, action="store_true", help=help_text)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-reconcile", action="store_true", help=argparse.SUPPRESS)
    return parser


def read_settings(argv=None, environ=None) -> Settings:
    """Flags over environment over defaults; raises SettingsError (one line) for the first
    setting that cannot be used."""
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.parse is None:
            continue
        from_flag = getattr(args, option.field, None) if option.flag else None
        if from_flag is not None:
            raw, source = from_flag, f"{option.flag} {from_flag}"
        elif environ.get(option.env, "") != "":
            raw = environ[option.env]
            source = f"{option.env}={'<set>' if option.field in SECRET_VALUED else raw}"
        else:
            values[option.field] = option.default
            continue
        try:
            values[option.field] = option.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
    try:
        secrets = read_secrets(environ)
    except SecretBoxError as exc:
        raise SettingsError(str(exc)) from None
    settings = Settings(**values, **{switch.lstrip("-").replace("-", "_"): getattr(args, switch.lstrip("-")
                                                                                    .replace("-", "_"))
                                     for switch in SWITCHES},
                        worker=args.worker, no_reconcile=args.no_reconcile, secrets=secrets)
    if settings.demo_data and settings.no_demo_data:
        raise SettingsError("--demo-data and --no-demo-data: choose one")
    if settings.demo and not settings.loads_demo_data:
        raise SettingsError("--demo plays with the demo data, which a server off development mode loads only "
                            "with --demo-data")
    return settings


def worker_arguments(settings, port):
    """The flags a --processes worker gets: the settings that are flags, resolved, so the
    worker reads exactly what its parent read (the environment supplies the rest), but for
    the pool: the worker's share of it."""
    args = ["--worker", "--host", settings.host, "--port", str(port), "--pool-size", str(settings.worker_pool_size),
            "--log-level", settings.log_level]
    if settings.log_format:
        args += ["--log-format", settings.log_format]
    if settings.test_driver:
        args.append("--test-driver")
    # The parent loaded the demo data or not; a worker imports the demo games only if it did.
    args.append("--demo-data" if settings.loads_demo_data else "--no-demo-data")
    return args
