"""Runs the casino and the game provider in one Tornado process (or N of them).

    python server.py [--port 8000] [--data-dir ./.data/postgres] [--processes N] [--demo]

Without DATABASE_URL it starts the embedded PostgreSQL under --data-dir, applies pending
migrations and the demo data, and serves on 127.0.0.1. Ctrl-C (or SIGTERM) stops taking
connections, lets requests in flight finish, closes the pool and stops the embedded server.

With --processes N the parent does the database work once, then runs N worker processes
that each bind the port with SO_REUSEPORT (the kernel spreads connections over them) and
have their own pools. Stopping the parent stops the workers, then the database.
"""
import argparse
import asyncio
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import tornado.netutil
import tornado.web

import casino.credentials
import casino.handlers
import casino.sessions
import provider.credentials
import provider.handlers
from casino.demo import play_demo
from casino.operators import OperatorKeys
from casino.limits import ConcurrencyLimit
from casino.provider_link import ProviderLink
from db.config import database_from_environment
from db.pool import Database, DatabaseUnavailable
from provider.casino_client import CasinoClient
from provider.reconcile import run_periodically
from sql.migrate import migrate
from wire import logs, metrics, transport
from wire.handlers import JsonHandler, NotFoundHandler
from wire.openapi import DOCUMENT_PATH
from wire.secretbox import SecretBoxError
from wire.secrets_env import read_secrets
from wire.outbound import Limits

log = logging.getLogger("server")

# Seconds between reloads of the signing and operator keys: the longest a revoked key
# still works, in every process.
KEY_REFRESH_SECONDS = float(os.environ.get("KEY_REFRESH_SECONDS", "1"))
SIGNATURE_TOLERANCE_SECONDS = float(os.environ.get("SIGNATURE_TOLERANCE", "300"))
SHUTDOWN_GRACE_SECONDS = 10


class HealthHandler(JsonHandler):
    async def get(self):
        try:
            await self.settings["db"].transaction(lambda cur: cur.execute("SELECT 1"))
        except DatabaseUnavailable:
            self.render_json(503, {"status": "unavailable", "database": "down"})
            return
        self.render_json(200, {"status": "ok", "database": "up"})


class MetricsHandler(JsonHandler):
    # Answered without render_json on purpose: scrapes get no access line and no metrics
    # of their own, so a 15-second scrape interval does not flood either.
    async def get(self):
        content_type, body = metrics.exposition()
        self.set_header("Content-Type", content_type)
        self.finish(body)


class OpenApiHandler(JsonHandler):
    async def get(self):
        self.render_json(200, DOCUMENT_PATH.read_bytes())


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


class Application(tornado.web.Application):
    def __init__(self, db, secrets, own_url, test_driver=False):
        self.in_flight = InFlight()
        handlers = [(r"/health", HealthHandler), (r"/openapi.json", OpenApiHandler),
                    (r"/metrics", MetricsHandler), *json_routes(test_driver or secrets.development)]
        casino_keys = casino.credentials.keyring(db, secrets, KEY_REFRESH_SECONDS, SIGNATURE_TOLERANCE_SECONDS)
        provider_keys = provider.credentials.keyring(db, secrets, KEY_REFRESH_SECONDS, SIGNATURE_TOLERANCE_SECONDS)
        self.credentials = [casino_keys, provider_keys, OperatorKeys(db, secrets.operator_key, KEY_REFRESH_SECONDS)]
        super().__init__(
            handlers,
            default_handler_class=NotFoundHandler,
            log_function=logs.logged_by_handler,
            db=db,
            development=secrets.development,
            casino_keys=casino_keys,
            provider_keys=provider_keys,
            operators=self.credentials[2],
            casino_code=secrets.casino_code,
            session_idle_timeout=casino.sessions.idle_timeout(),
            # Both systems reach each other over HTTP, by default at this process's address,
            # each direction on a client of its own so neither can starve the other.
            provider_link=ProviderLink(os.environ.get("PROVIDER_URL", own_url), casino_keys,
                                       Limits(max_clients=_env_int("PROVIDER_LINK_MAX_CLIENTS", 16))),
            casino_client=CasinoClient(provider_keys, os.environ.get("CASINO_URL", own_url),
                                       limits=Limits(max_clients=_env_int("CASINO_CLIENT_MAX_CLIENTS", 16))),
            simulate_limit=ConcurrencyLimit(_env_int("SIMULATE_CONCURRENCY", 4), "simulated rounds"),
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


def _env_int(name, default):
    return int(os.environ.get(name, default))


def json_routes(test_driver=True):
    """Every POST endpoint of both systems, as (path, handler) pairs."""
    return [*casino.handlers.routes(test_driver), *provider.handlers.routes()]


def is_loopback(host):
    """Whether every address `host` names is a loopback one (development mode's bound)."""
    try:
        infos = socket.getaddrinfo(host or None, None, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Casino + game provider service")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                        help="address to listen on (HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                        help="port to listen on, 0 for any free one (PORT, default 8000)")
    parser.add_argument("--data-dir", default=None,
                        help="embedded PostgreSQL data directory (CASINO_DATA_DIR, default ./.data/postgres)")
    # Small on purpose: each call is one short statement, and fewer backends contending
    # for a hot wallet's row lock serve it faster (docs/performance.md).
    parser.add_argument("--pool-size", type=int, default=int(os.environ.get("DB_POOL_SIZE", "4")),
                        help="database connections per process, and threads running them (DB_POOL_SIZE, default 4)")
    parser.add_argument("--no-demo-data", action="store_true",
                        help="do not load sql/demo.sql at start")
    parser.add_argument("--processes", type=int, default=int(os.environ.get("PROCESSES", "1")),
                        help="worker processes sharing the port; 0 = one per core (PROCESSES, default 1)")
    parser.add_argument("--log-format", choices=["json", "text"], default=os.environ.get("LOG_FORMAT"),
                        help="log lines as JSON or text (LOG_FORMAT; default: json unless on a terminal)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-reconcile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--test-driver", action="store_true",
                        help="serve POST /casino/simulateRound (always on in development mode)")
    parser.add_argument("--demo", action="store_true",
                        help="play one demo round through /casino/simulateRound, print it, and exit "
                             "(0 when every step went as scripted)")
    return parser.parse_args(argv)


def startup_banner(address, database, secrets, processes=1):
    lines = [
        "casino + provider service ready",
        f"  listening  {address}" + (f" ({processes} processes)" if processes > 1 else ""),
        f"  database   {database.description}",
    ]
    if secrets.development:
        lines += [f"  secrets    DEV DEFAULTS for {', '.join(secrets.on_defaults)} -- development mode:",
                  "             loopback only; launchGame and simulateRound open without an operator key",
                  "  play a round:",
                  f"    curl -s -X POST {address}/casino/simulateRound -H 'Content-Type: application/json' "
                  "-d '{\"userId\": 1, \"gameId\": 1}'"]
    else:
        lines.append("  secrets    from the environment; operator keys required")
    return "\n".join(lines)


async def serve(args, database, secrets):
    sockets = tornado.netutil.bind_sockets(args.port, args.host, reuse_port=args.worker,
                                           backlog=transport.LISTEN_BACKLOG)
    port = sockets[0].getsockname()[1]
    own_url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{port}"
    db = Database(database.dsn, size=args.pool_size)
    app = Application(db, secrets, own_url, test_driver=args.test_driver or args.demo)
    await app.load_credentials()
    # Deadlines, the connection cap and the body limit (wire/transport.py).
    server = transport.HttpServer(app, transport.Limits.from_environment())
    server.add_sockets(sockets)
    if args.worker:
        print(f"worker {os.getpid()} ready", flush=True)
    elif not args.demo:
        print(startup_banner(f"http://{args.host}:{port}", database, secrets), flush=True)

    # The provider's reconciliation (provider/reconcile.py); with --processes, one worker runs it.
    interval = float(os.environ.get("RECONCILE_INTERVAL", "60"))
    reconciler = None
    if interval > 0 and not args.no_reconcile:
        reconciler = asyncio.ensure_future(run_periodically(
            db, app.settings["casino_client"], interval, float(os.environ.get("RECONCILE_STALE_AFTER", "30")),
            float(os.environ.get("ROUND_TIMEOUT", "300"))))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exit_code = 0
    if args.demo:
        exit_code = await play_demo(own_url, db, secrets.operator_key)
    else:
        await stop.wait()

    if not args.worker:
        print("shutting down: no new connections, finishing requests in flight", flush=True)
    server.stop()
    app.stop_credentials()
    if reconciler is not None:
        reconciler.cancel()
    try:
        await asyncio.wait_for(app.in_flight.idle.wait(), SHUTDOWN_GRACE_SECONDS)
    except asyncio.TimeoutError:
        log.warning("%d request(s) still running after %ss", app.in_flight.count, SHUTDOWN_GRACE_SECONDS)
    await server.close_all_connections()
    app.close_clients()
    db.close()
    return exit_code


def supervise(args, database, processes, secrets):
    """Run the workers until a signal (or a worker's death), then stop them all."""
    # Holds the port (bound, never listening, so it takes no connections) for the workers
    # to share, which also resolves --port 0 to one port for all of them.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((args.host, args.port))
    port = holder.getsockname()[1]
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--host", args.host,
               "--port", str(port), "--pool-size", str(args.pool_size)]
    if args.log_format:
        command += ["--log-format", args.log_format]
    if args.test_driver:
        command.append("--test-driver")
    # prometheus-client's multiprocess mode: every worker writes its samples here.
    metrics_dir = tempfile.mkdtemp(prefix="casino-metrics-")
    env = dict(os.environ, DATABASE_URL=database.dsn, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    workers = [subprocess.Popen(command + (["--no-reconcile"] if i else []), env=env, stdout=subprocess.PIPE,
                                text=True) for i in range(processes)]
    for worker in workers:
        line = worker.stdout.readline()
        if not line.startswith("worker"):
            log.error("a worker failed to start")
            break
    else:
        print(startup_banner(f"http://{args.host}:{port}", database, secrets, processes), flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        # A worker that dies takes the service down with it, loudly, rather than serving
        # on with less capacity than asked for.
        while not stop.wait(0.5):
            if any(w.poll() is not None for w in workers):
                log.error("a worker exited; stopping the others")
                break
    print("shutting down: workers finish requests in flight", flush=True)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(SHUTDOWN_GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:
            worker.kill()
    holder.close()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return max(abs(w.returncode or 0) for w in workers)


def main(argv=None):
    args = parse_args(argv)
    logs.configure(args.log_format)
    try:
        secrets = read_secrets()
    except SecretBoxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if secrets.development and not is_loopback(args.host):
        print(f"error: refusing to listen on {args.host or 'every address'} on development secrets "
              f"({', '.join(secrets.on_defaults)} unset): set them, or listen on 127.0.0.1", file=sys.stderr)
        return 2
    if secrets.development and not args.worker:
        log.warning("RUNNING ON DEVELOPMENT SECRETS: %s not set -- loopback only", ", ".join(secrets.on_defaults))
    processes = args.processes or os.cpu_count()
    with database_from_environment(args.data_dir) as database:
        if not args.worker:
            migrate(database.dsn, demo=not args.no_demo_data, log=log.info)
        if processes > 1 and not (args.worker or args.demo):
            exit_code = supervise(args, database, processes, secrets)
        else:
            try:
                exit_code = asyncio.run(serve(args, database, secrets))
            except SecretBoxError as exc:
                print(f"error: {exc}", file=sys.stderr)
                exit_code = 2
    if not args.worker:
        print("stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
