"""Runs the casino and the game provider in one Tornado process (or N of them).

    python server.py [--port 8000] [--data-dir ./.data/postgres] [--processes N] [--demo]

In order: read and check every setting (service/settings.py), take the port, start the
database -- the embedded PostgreSQL under --data-dir when DATABASE_URL is unset -- check
it, apply pending migrations and the demo data, then serve (service/app.py) on 127.0.0.1,
or supervise N workers (service/supervisor.py). A start-up that cannot go on ends with
one line on stderr and a non-zero exit: 2 for a setting, 1 for the machine (port,
database, data directory).

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

from casino.demo import play_demo
from casino.game_import import DEMO_PROVIDER, import_demo_games
from casino.reconciliation import run_daily
from db.config import UNUSABLE, database_from_environment, redact, why_unusable
from db.embedded import DataDirectoryError
from db.pool import Database
from provider.reconcile import run_periodically
from service.app import Application
from service.settings import SettingsError, read_settings
from service.startup import StartupError, check_database, hold_port, is_loopback, listen
from service.supervisor import supervise
from sql.migrate import MigrationError, migrate
from wire import logs, transport
from wire.secretbox import SecretBoxError

log = logging.getLogger("server")

SHUTDOWN_GRACE_SECONDS = 10
# Connections per process to DATABASE_READ_URL: the back office's views are few and light.
READ_POOL_SIZE = 2
# Connections per process for the reports (which may read for seconds): their own, so a long
# report never holds one the money calls need.
REPORT_POOL_SIZE = 2


def startup_banner(address, database, secrets, processes=1, read_url=None):
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
                  f"    curl -s -X POST {address}/casino/simulateRound -H 'Content-Type: application/json' "
                  "-d '{\"userId\": 1, \"gameId\": 1}'"]
    else:
        lines.append("  secrets    from the environment; operator keys required")
    return "\n".join(lines)


async def serve(settings, sockets, database):
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
    await app.load_credentials()
    # Deadlines, the connection cap and the body limit (wire/transport.py).
    server = transport.HttpServer(app, settings.transport_limits)
    server.add_sockets(sockets)
    if not settings.no_demo_data:
        # The demo casino's games, from the hosted provider's catalogue (sql/demo.sql has its side).
        imported = await import_demo_games(db, app.settings["provider_link"], app.settings["casino_code"])
        if imported.status != 200:
            log.warning("demo games not imported from %s: %s", DEMO_PROVIDER, imported.body)
    if settings.worker:
        print(f"worker {os.getpid()} ready", flush=True)
    elif not settings.demo:
        print(startup_banner(f"http://{host}:{port}", database, settings.secrets,
                             read_url=settings.database_read_url), flush=True)

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
                                                settings.report_time_zone, settings.daily_reconciliation))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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
    for task in (reconciler, daily):
        if task is not None:
            task.cancel()
    try:
        await asyncio.wait_for(app.in_flight.idle.wait(), SHUTDOWN_GRACE_SECONDS)
    except asyncio.TimeoutError:
        log.warning("%d request(s) still running after %ss", app.in_flight.count, SHUTDOWN_GRACE_SECONDS)
    await server.close_all_connections()
    app.close_clients()
    db.close()
    report_db.close()
    if read_db is not None:
        read_db.close()
    return exit_code


def run(settings):
    """Everything after the settings; raises StartupError (and the database's own one-line
    errors) for a start-up that cannot go on."""
    secrets = settings.secrets
    if secrets.development and not is_loopback(settings.host):
        raise SettingsError(f"refusing to listen on {settings.host or 'every address'} on development secrets "
                            f"({', '.join(secrets.on_defaults)} unset): set them, or listen on 127.0.0.1")
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
            if not settings.worker:
                migrate(database.dsn, demo=not settings.no_demo_data, log=log.info)
            if secrets.development and not settings.worker:
                log.warning("RUNNING ON DEVELOPMENT SECRETS: %s not set -- loopback only",
                            ", ".join(secrets.on_defaults))
            if holder is not None:
                return supervise(settings, holder, database.dsn,
                                 lambda port: startup_banner(f"http://{settings.host}:{port}", database, secrets,
                                                             processes, settings.database_read_url),
                                 SHUTDOWN_GRACE_SECONDS)
            return asyncio.run(serve(settings, sockets, database))
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
