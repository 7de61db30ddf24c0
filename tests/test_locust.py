"""A short headless run of loadtests/retries.py: aggregator-style abuse, then its check."""
import os
import subprocess
import sys

from tests.support import CASINO_SECRET, OPERATOR_KEY, PROVIDER_SECRET, ROOT


def test_retry_storm_leaves_every_wallet_explained(server, ledger, database_dsn):
    game = ledger.launchable_game(min_bet=10, max_bet=10_000)
    (before,), = ledger.query("SELECT coalesce(max(id), 0) FROM CASINO_USERS")   # players made by the run: after
    env = dict(os.environ, DATABASE_URL=database_dsn, CASINO_SECRET=CASINO_SECRET.decode(),
               PROVIDER_SECRET=PROVIDER_SECRET.decode(), OPERATOR_KEY=OPERATOR_KEY, LOCUST_GAME_ID=str(game),
               LOCUST_PLAYERS="16")
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/retries.py", "--headless", "-u", "16", "-r", "16",
         "-t", "8s", "--host", server.url, "--only-summary", "--stop-timeout", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    check = [line for line in output.splitlines() if line.startswith("check:")]
    assert len(check) == 1 and check[0].endswith("0 violation(s) -> ok"), output[-4000:]
    assert "VIOLATION" not in output
    # The run really did something: thousands of answers, refusals among them.
    answers = int(check[0].split(" answers")[0].rsplit(" ", 1)[1])
    assert answers > 500
    assert ledger.violations() == []
    # Its players were marked as Locust's and, the run over, none is left in play (each
    # had one open session; the other, closed at the start, is its bet-on-closed target).
    assert "retired: 16 session(s) closed, 16 player(s) disabled" in output, output[-4000:]
    assert ledger.query("""SELECT u.status, count(DISTINCT u.id), count(s.id) FILTER (WHERE s.is_active)
                           FROM CASINO_USERS u LEFT JOIN CASINO_GAME_SESSIONS s ON s.user_id = u.id
                           WHERE u.id > %s GROUP BY 1""", before) == [("disabled", 16, 0)]
    assert ledger.query("SELECT DISTINCT origin FROM CASINO_USERS WHERE id > %s", before) == [("locust",)]


def test_without_the_servers_database_it_refuses_and_creates_nothing(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CASINO_DATA_DIR=str(tmp_path / "pg"), CASINO_SECRET=CASINO_SECRET.decode(),
               PROVIDER_SECRET=PROVIDER_SECRET.decode())
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/retries.py", "--headless", "-u", "2", "-r", "2",
         "-t", "5s", "--host", server.url, "--only-summary"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-4000:]
    assert f"check: not run: no PostgreSQL is running on {tmp_path / 'pg'}" in output, output[-4000:]
    assert not (tmp_path / "pg").exists()
