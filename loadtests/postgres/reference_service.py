"""The reference service: the least a signed debit service can do on our stack, the
yardstick `loadtests.bench` holds ours against.

    REFERENCE_SECRET=<the key's secret> python -m loadtests.postgres.reference_service --port 0 \\
        --dsn DSN --schema bench_reference_<tag> --kid KID [--pool-size 4]

One Tornado handler for POST /casino/debit on the stack ours stands on: the same v2
HMAC-SHA256 over the raw body (wire.signing; one key, named by --kid), the same JSON, and
one call of reference_debit (loadtests/postgres/reference.sql, in --schema) in autocommit, on a
psycopg2 ThreadedConnectionPool behind a ThreadPoolExecutor of the same size, reached with
IOLoop.run_in_executor. Nothing else: no access line, no metrics, no request id, no
validation beyond the types of the fields it uses. Prints `listening <url>` once it
listens; SIGINT or SIGTERM stops it.

install() and uninstall() create the reference schema (tables, function, funded wallets)
and drop it; the bench calls them.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import psycopg2.sql
import tornado.httpserver
import tornado.netutil
import tornado.web
from psycopg2.pool import ThreadedConnectionPool
from tornado.ioloop import IOLoop

from wire.refusals import error_body
from wire.signing import parse

SCHEMA_SQL = Path(__file__).with_name("reference.sql")
DEBIT = "SELECT status, body, replay FROM reference_debit(%s, %s, %s, %s)"
FUND_WALLETS = "INSERT INTO reference_wallets (id, currency, balance) SELECT unnest(%s::bigint[]), %s, %s"
MAX_BODY_BYTES = 64 * 1024


def install(dsn, schema, wallet_ids, funds, currency="USD"):
    """The reference schema, its function, and one funded wallet per id."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            # A schema name is an identifier, which cannot be a bound parameter.
            cur.execute(psycopg2.sql.SQL("CREATE SCHEMA {}").format(psycopg2.sql.Identifier(schema)))
            cur.execute("SELECT set_config('search_path', %s, true)", (schema,))
            cur.execute(SCHEMA_SQL.read_text())
            cur.execute(FUND_WALLETS, (list(wallet_ids), currency, funds))
    finally:
        conn.close()


def uninstall(dsn, schema):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(psycopg2.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg2.sql.Identifier(schema)))
    finally:
        conn.close()


def search_path_option(schema):
    """libpq `options` (or PGOPTIONS) that put the reference schema first."""
    return f"-c search_path={schema}"


class Wallet:
    """The thread-pooled psycopg2 door: one function call per debit, in autocommit."""

    def __init__(self, dsn, schema, size):
        self._pool = ThreadedConnectionPool(size, size, dsn, options=search_path_option(schema),
                                            application_name="bench-reference")
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="db")

    async def debit(self, *args):
        return await IOLoop.current().run_in_executor(self._executor, self._debit, *args)

    def _debit(self, *args):
        conn = self._pool.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(DEBIT, args)
                return cur.fetchone()
        finally:
            self._pool.putconn(conn, close=bool(conn.closed))

    def close(self):
        self._executor.shutdown(wait=True)
        self._pool.closeall()


class DebitHandler(tornado.web.RequestHandler):
    def initialize(self, wallet, kid, secret):
        self.wallet, self.kid, self.secret = wallet, kid, secret

    async def post(self):
        raw = self.request.body
        if len(raw) > MAX_BODY_BYTES:
            return self.answer(413, error_body("PAYLOAD_TOO_LARGE", "body too large"))
        signature = parse(self.request.headers.get("x-casino-signature"))
        if (signature is None or signature.version != 2 or signature.kid != self.kid or not signature.fresh()
                or not signature.matches(self.secret, "POST", self.request.path, raw)):
            return self.answer(401, error_body("INVALID_SIGNATURE", "missing or invalid signature"))
        try:
            req = json.loads(raw)
            user_id, transaction_id, amount, currency = (
                req["userId"], req["transactionId"], req["amount"], req["currency"])
            if not (type(user_id) is int and type(amount) is int and amount > 0
                    and isinstance(transaction_id, str) and isinstance(currency, str)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self.answer(400, error_body("INVALID_REQUEST", "malformed debit"))
        status, body, replay = await self.wallet.debit(user_id, transaction_id, amount, currency)
        self.answer(status, body, replay)

    def answer(self, status, body, replay=False):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if replay:
            self.set_header("Idempotent-Replay", "true")
        self.finish(body)


async def serve(args, secret):
    wallet = Wallet(args.dsn, args.schema, args.pool_size)
    app = tornado.web.Application([(r"/casino/debit", DebitHandler,
                                    {"wallet": wallet, "kid": args.kid, "secret": secret})])
    sockets = tornado.netutil.bind_sockets(args.port, args.host)
    server = tornado.httpserver.HTTPServer(app, xheaders=False)
    server.add_sockets(sockets)
    print(f"listening http://{args.host}:{sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await server.close_all_connections()
    wallet.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtests.reference_service",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", default="bench_reference", help="where install() put reference_debit")
    parser.add_argument("--kid", required=True, help="the one key id it accepts (secret: REFERENCE_SECRET)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pool-size", type=int, default=4)
    args = parser.parse_args(argv)
    secret = os.environ.get("REFERENCE_SECRET")
    if not secret:
        parser.error("REFERENCE_SECRET is not set")
    asyncio.run(serve(args, secret.encode()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
