"""python -m casino.audit: clean ledgers pass, and a wallet the ledger does not explain is named."""
import os
import subprocess
import sys

from sql.migrate import migrate
from tests.support import ROOT, Ledger


def audit(dsn):
    return subprocess.run([sys.executable, "-m", "casino.audit"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, DATABASE_URL=dsn), timeout=60)


def test_clean_ledger_passes(fresh_dsn):
    migrate(fresh_dsn, demo=True, log=lambda _: None)
    run = audit(fresh_dsn)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 wallets, 4 ledger rows, 0 violation(s)" in run.stdout


def test_a_balance_the_ledger_does_not_explain_is_named(fresh_dsn):
    migrate(fresh_dsn, log=lambda _: None)
    ledger = Ledger(fresh_dsn)
    _, wallets = ledger.player(funds=1_000)
    wallet = wallets["USD"]
    # Money that appeared without a ledger row, as a buggy or manual UPDATE would leave it.
    ledger.query("UPDATE CASINO_WALLETS SET playable_balance = playable_balance + 5 WHERE id = %s RETURNING id",
                 wallet)
    run = audit(fresh_dsn)
    assert run.returncode == 1
    assert f"VIOLATION wallet {wallet} (USD): balance 1005/1000" in run.stdout
    assert "1 violation(s)" in run.stdout
