"""Runs the casino and the game provider in one Tornado process (or N of them).

    python server.py [--port 8000] [--data-dir ./.data/postgres] [--processes N] [--demo]

In order: read and check every setting (service/settings.py), take the port, start the
database -- the embedded PostgreSQL under --data-dir when DATABASE_URL is unset -- check
it, apply pending migrations, load the demo data (service/demo_data.py: development mode,
or --demo-data), then serve (service/app.py) on 127.0.0.1, or supervise N workers
(service/supervisor.py), warning of demo data and v1 signatures off development mode. A
start-up that cannot go on ends with one line on stderr and a non-zero exit: 2 for a
setting, 1 for the machine (port, database, data directory).

Ctrl-C (or SIGTERM) turns /health/ready to 503, stops taking connections (after
SHUTDOWN_DELAY), lets requests in flight finish, closes the pool and stops the embedded
server.
"""
import asyncio
import logging
import os
import signal
import sys

import psycopg2
import uvloop

from casino import bonuses
from casino.credentials import v1_providers
from casino.demo import play_demo
from casino.game_import import DEMO_PROVIDER, import_demo_games
from casino.reconciliation import run_daily
from db.config import UNUSABLE, database_from_environment, redact, why_unusable
from db.embedded import DataDirectoryError
from db.pool import Database
from provider.credentials import v1_casinos
from provider.reconcile import run_periodically
from service.app import Application
from service.demo_data import load_demo_data
from service.settings import SettingsError, read_settings
from service.startup import StartupError, check_database, check_protection, hold_port, is_loopback, listen
from service.supervisor import supervise
from sql.migrate import MigrationError, migrate
from wire import logs, transport
from wire.addresses import AddressPolicy, url_refusal_now
from wire.secretbox import SecretBoxError

log = logging.getLogger("server")

SHUTDOWN_GRACE_SECONDS = 10
# Connections per process to DATABASE_READ_URL: the back office's views are few and light.
READ_POOL_SIZE = 2
# Connections per process for the reports (which may read for seconds): their own, so a long
# report never holds one the money calls need.
REPORT_POOL_SIZE = 2


def startup_notices(dsn, settings):
    """What a start off development mode warns of, in the log and the start-up lines: demo
    data loaded (--demo-data), and each counterpart whose keys still sign v1 (the body
    alone, so a captured body can be replayed to another endpoint)."""
    if settings.secrets.development:
        return []
    notices = []
    if settings.loads_demo_data:
        notices.append("DEMO DATA loaded (--demo-data): provider JAQPOT and casino DEMO-CASINO on the "
                       "environment's keys, players alice and bob with funds -- never for real money")
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            providers, casinos = v1_providers(cur), v1_casinos(cur)
    finally:
        conn.close()
    notices += [f"v1 signatures (body only, replayable) accepted from provider {code}: "
                f"python -m casino.keys provider v1 {code} off" for code in providers]
    notices += [f"v1 signatures (body only, replayable) accepted at the provider from casino {code}: "
                f"python -m provider.keys casino v1 {code} off" for code in casinos]
    return notices


def startup_banner(address, database, secrets, processes=1, read_url=None, notices=()):
    lines = [
        "casino + provider service ready",
        f"  listening  {address}" + (f" ({processes} processes)" if processes > 1 else ""),
        f"  database   {database.description}",
    ]
    if read_url:
        lines.append(f"  reads      DATABASE_READ_URL {redact(read_url)} (back office views)")
    if secrets.development:
        lines += [f"  secrets    DEV DEFAULTS for {', '.join(secrets.on_defaults)} -- development mode:",
                  "             loopback only; launchGame and simulateRound open without an operator key",
                  "  play a round:",
                  (f"    curl -s -X POST {address}/casino/simulateRound -H 'Content-Type: application/json' "
                   "-d '{\"userId\": 1, \"gameId\": 1}'")]
    else:
        lines.append("  secrets    from the environment; operator keys required")
    lines += [f"  WARNING    {notice}" for notice in notices]
    return "\n".join(lines)


async def serve(settings, sockets, database, notices=()):
    port = sockets[0].getsockname()[1]
    host = settings.host
    own_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    db = Database(database.dsn, size=settings.pool_size, call_timeout=settings.db_call_timeout)
    # The back office's views on a replica: a small pool, read-only transactions.
    read_db = (Database(settings.database_read_url, size=READ_POOL_SIZE, application_name="casino-read",
                        call_timeout=settings.db_call_timeout, read_only=True)
               if settings.database_read_url else None)
    # The reports: read-only, on the replica when there is one, bounded by REPORT_TIMEOUT.
    report_db = Database(settings.database_read_url or database.dsn, size=REPORT_POOL_SIZE,
                         application_name="casino-reports", call_timeout=settings.report_timeout, read_only=True)
    app = Application(db, settings, own_url, read_db=read_db, report_db=report_db)
    # Ctrl-C and SIGTERM are taken from here on, before anyone is told the process is ready:
    # a supervisor's SIGTERM right after "ready" is an orderly stop, not a death by signal.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.load_credentials()
    # Deadlines, the connection cap and the body limit (wire/transport.py).
    server = transport.HttpServer(app, settings.transport_limits)
    server.add_sockets(sockets)
    if settings.loads_demo_data:
        # The demo casino's games, from the hosted provider's catalogue (sql/demo.sql has its side).
        imported = await import_demo_games(db, app.settings["provider_link"], app.settings["casino_code"])
        if imported.status != 200:
            log.warning("demo games not imported from %s: %s", DEMO_PROVIDER, imported.body)
    if settings.worker:
        print(f"worker {os.getpid()} ready", flush=True)
    elif not settings.demo:
        print(startup_banner(f"http://{host}:{port}", database, settings.secrets,
                             read_url=settings.database_read_url, notices=notices), flush=True)

    # The provider's reconciliation (provider/reconcile.py); with --processes, one worker runs it.
    reconciler = None
    if settings.reconcile_interval > 0 and not settings.no_reconcile:
        reconciler = asyncio.ensure_future(run_periodically(
            db, app.settings["casino_client"], settings.reconcile_interval, settings.reconcile_stale_after,
            settings.round_timeout))

    # The casino's daily reconciliation with every provider (casino/reconciliation.py); one worker.
    daily = None
    if settings.daily_reconciliation is not None and not settings.no_reconcile:
        daily = asyncio.ensure_future(run_daily(db, app.settings["provider_link"], app.settings["casino_code"],
                                                settings.report_time_zone, settings.daily_reconciliation,
                                                app.settings["feed_bounds"]))

    # Bonuses past their expiry (casino/bonuses.py): every process runs the pass; two at
    # once forfeit each bonus once.
    bonus_expiry = None
    if settings.bonus_expiry_interval > 0:
        bonus_expiry = asyncio.ensure_future(bonuses.run_periodically(db, settings.bonus_expiry_interval))

    exit_code = 0
    if settings.demo:
        exit_code = await play_demo(own_url, db, settings.secrets.operator_key)
    else:
        await stop.wait()

    app.stopping = True
    if not (settings.worker or settings.demo):
        print("shutting down: no new connections, finishing requests in flight", flush=True)
    if settings.shutdown_delay and not settings.demo:
        # Still serving, ready answering 503: a load balancer takes this one out first.
        await asyncio.sleep(settings.shutdown_delay)
    server.stop()
    app.stop_credentials()
    for task in (reconciler, daily, bonus_expiry):
        if task is not None:
            task.cancel()
    try:
        await asyncio.wait_for(app.in_flight.idle.wait(), SHUTDOWN_GRACE_SECONDS)
    except TimeoutError:
        log.warning("%d request(s) still running after %ss", app.in_flight.count, SHUTDOWN_GRACE_SECONDS)
    await server.close_all_connections()
    app.close_clients()
    db.close()
    report_db.close()
    if read_db is not None:
        read_db.close()
    return exit_code


def check_counterpart_urls(settings):
    """CASINO_URL and PROVIDER_URL, when set, are checked as a provider's apiEndpoint is
    (wire/addresses.py); each connection is checked again."""
    policy = AddressPolicy(settings.outbound_networks)
    for name, url in (("CASINO_URL", settings.casino_url), ("PROVIDER_URL", settings.provider_url)):
        reason = url and url_refusal_now(url, policy)
        if reason:
            raise SettingsError(f"{name}={url}: refused, {reason} (OUTBOUND_ALLOWED_NETWORKS may allow its network)")


def run(settings):
    """Everything after the settings; raises StartupError (and the database's own one-line
    errors) for a start-up that cannot go on."""
    secrets = settings.secrets
    if secrets.development and not is_loopback(settings.host):
        raise SettingsError(f"refusing to listen on {settings.host or 'every address'} on development secrets "
                            f"({', '.join(secrets.on_defaults)} unset): set them, or listen on 127.0.0.1")
    check_counterpart_urls(settings)
    processes = 1 if (settings.worker or settings.demo) else settings.worker_processes
    # The port first: a server that cannot listen must not create or migrate a database.
    if processes > 1:
        holder, sockets = hold_port(settings.host, settings.port), None
    else:
        holder, sockets = None, listen(settings.host, settings.port, reuse_port=settings.worker)
    try:
        with database_from_environment(settings.data_dir, exclusive=not settings.worker,
                                       database_url=settings.database_url) as database:
            check_database(database.dsn)
            notices = []
            if not settings.worker:
                migrate(database.dsn, log=log.info)
                if settings.loads_demo_data:
                    load_demo_data(database.dsn, v1=secrets.development)
                notices = startup_notices(database.dsn, settings)
                if check_protection(database.dsn, settings.default_jurisdiction,
                                    settings.test_driver or settings.demo or secrets.development):
                    log.warning("the database's clock for limits and exclusions is a test clock: a row of "
                                "CASINO_TEST_CLOCK freezes it")
            if secrets.development and not settings.worker:
                log.warning("RUNNING ON DEVELOPMENT SECRETS: %s not set -- loopback only",
                            ", ".join(secrets.on_defaults))
            for notice in notices:
                log.warning(notice)
            if holder is not None:
                return supervise(settings, holder, database.dsn,
                                 lambda port: startup_banner(f"http://{settings.host}:{port}", database, secrets,
                                                             processes, settings.database_read_url, notices),
                                 SHUTDOWN_GRACE_SECONDS)
            # Tornado on uvloop: libuv's asyncio loop in place of the standard library's
            # selector loop, the same API for a tenth less CPU per request (docs/performance.md,
            # "Issue 23").
            return uvloop.run(serve(settings, sockets, database, notices))
    finally:
        for sock in sockets or ():
            sock.close()
        if holder is not None:
            holder.close()


def main(argv=None):
    try:
        settings = read_settings(argv)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # --demo prints its table alone: no access or info lines between its rows, unless asked.
    level = "warning" if settings.demo and "LOG_LEVEL" not in os.environ else settings.log_level
    logs.configure(settings.log_format, level)
    try:
        exit_code = run(settings)
    except (SettingsError, SecretBoxError) as exc:   # SecretBoxError: KEYS_ENCRYPTION_KEY opens no key
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (StartupError, DataDirectoryError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except UNUSABLE as exc:
        print(f"error: {why_unusable(exc)}", file=sys.stderr)
        return 1
    except psycopg2.Error as exc:
        # The database went away or refused us between the checks and serving.
        print(f"error: database: {' '.join(str(exc).split()) or type(exc).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C during start-up: what was started has been stopped on the way out.
        print("stopped during start-up", file=sys.stderr)
        return 130
    if not (settings.worker or settings.demo):
        print("stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
