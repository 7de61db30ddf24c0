"""Schemathesis against live servers with every check it has (`--checks all`), over the
whole document each serves: keyed (the operator key) and signed (each request's signature
computed over the bytes sent), in both modes -- a development mode server (development
secrets, the test driver routed, launchGame and simulateRound without a key) and a
production one (its secrets set, no test driver) -- each on a database of its own, with the
demo data to play with. The run must find nothing, and the ledger audit must be clean
after it.

Schemathesis runs as its command line does (`schemathesis run`), every phase: the
document's examples, its coverage of each schema's edges (every bound, type and pattern,
valid and not), random cases, and stateful sequences that follow the links it infers
(create, then read, change, revoke what was created). What it is told beyond the document
is in tests/schemathesis.toml and tests/schemathesis_hooks.py, each with why.

Size: FUZZ_EXAMPLES cases per operation and phase (default 8, what CI runs); a longer hunt
is `FUZZ_EXAMPLES=200 pytest tests/test_fuzz.py`, and FUZZ_SEED replays a run's seed (the
output of a failed run prints it).
"""
import os
import subprocess
import sys

import pytest
import requests

from service.app import json_routes
from sql.migrate import migrate
from tests.databases import create_database
from tests.support import CASINO_SECRET, OPERATOR_KEY, PROVIDER_SECRET, ROOT, Ledger, ServerProcess
from wire.openapi import build
from wire.secrets_env import DEV_SECRETS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("FUZZ_SEED")

MODES = {
    # Development secrets (CASINO_SECRET and PROVIDER_SECRET unset): the test driver and the
    # demo data come with the mode.
    "development": ({"CASINO_SECRET": "", "PROVIDER_SECRET": ""},
                    {"FUZZ_CASINO_SIGNER": f"JAQPOT:{DEV_SECRETS['CASINO_SECRET']}",
                     "FUZZ_PROVIDER_SIGNER": f"DEMO-CASINO:{DEV_SECRETS['PROVIDER_SECRET']}"}),
    "production": ({}, {"FUZZ_CASINO_SIGNER": f"JAQPOT:{CASINO_SECRET.decode()}",
                        "FUZZ_PROVIDER_SIGNER": f"DEMO-CASINO:{PROVIDER_SECRET.decode()}"}),
}


@pytest.fixture(params=list(MODES))
def fuzzed(request, service_dsn_for):
    """A server of the mode on a migrated database of its own (the fuzzer changes markets,
    keys and providers no other test may meet), its ledger, and the signers' environment."""
    mode = request.param
    server_env, signers = MODES[mode]
    dsn = create_database(f"fuzz_{mode}")
    migrate(dsn, log=lambda _: None)
    server = ServerProcess(service_dsn_for(dsn), extra_env=server_env, test_driver=False, demo_data=True).start()
    yield mode, server, Ledger(dsn), signers
    server.stop(keep_log=request.session.testsfailed > 0)


def test_schemathesis_finds_nothing(fuzzed, tmp_path):
    mode, server, ledger, signers = fuzzed
    served = requests.get(server.url + "/openapi.json", timeout=30).json()
    development = mode == "development"
    assert served == build(json_routes(test_driver=development), development=development)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
               "--no-color", "run", f"{server.url}/openapi.json", "--checks", "all",
               "--max-examples", str(EXAMPLES), "--workers", "1", "--request-timeout", "60",
               "--suppress-health-check", "all", *(["--seed", SEED] if SEED else [])]
    # Run from a folder of the test's own: Schemathesis keeps a cache where it runs.
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, env={
        **os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "FUZZ_OPERATOR_KEY": OPERATOR_KEY, **signers})
    assert run.returncode == 0, f"{mode}:\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    # What it ran, in cases and seconds (pytest -s shows it).
    print(f"\n{mode}:", run.stdout[run.stdout.find("Examples ("):run.stdout.find("=====")],
          run.stdout[run.stdout.rfind("Test cases:"):])
    assert ledger.violations() == []
