"""python -m casino.audit: clean ledgers pass, and a wallet the ledger does not explain is named."""
import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("tool", ["casino.audit", "provider.reconcile"])
def test_tools_refuse_a_missing_or_unmigrated_database_and_create_nothing(tool, fresh_dsn, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CASINO_DATA_DIR")}
    missing = tmp_path / "pg"
    run = subprocess.run([sys.executable, "-m", tool, "--data-dir", str(missing)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"not run: no database under {missing}" in run.stderr
    assert "Traceback" not in run.stderr and not missing.exists()

    unmigrated = subprocess.run([sys.executable, "-m", tool], cwd=ROOT, env=dict(env, DATABASE_URL=fresh_dsn),
                                capture_output=True, text=True, timeout=60)
    assert unmigrated.returncode == 2, unmigrated.stdout + unmigrated.stderr
    assert "the schema is not migrated (python -m sql.migrate)" in unmigrated.stderr
    assert "Traceback" not in unmigrated.stderr
