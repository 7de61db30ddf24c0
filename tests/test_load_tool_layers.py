"""The HTTP load tools speak HTTP: importing one loads nothing of the service's packages,
directly or through another module, so each runs with only a deployment's URL and keys.
Every other tool in loadtests/ is the command of one in loadtests/postgres/, which may."""
import ast
import json
import subprocess
import sys

import pytest

from tests.support import ROOT

HTTP_TOOLS = ("loadtests.client", "loadtests.debit_rate", "loadtests.http_load", "loadtests.local_server",
              "loadtests.retries")
SERVICE_PACKAGES = ("casino", "provider", "db", "sql", "service")
# Nor a database driver: whatever they learn of a deployment, they learn over HTTP.
FORBIDDEN = (*SERVICE_PACKAGES, "psycopg2")

# The locust command has Locust (and gevent's patching) loaded before it loads a locustfile.
LOADED = """
import importlib, json, sys
if sys.argv[1] == "loadtests.retries":
    import locust  # noqa: F401
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[2:])))
"""


@pytest.mark.parametrize("module", HTTP_TOOLS)
def test_an_http_tool_loads_nothing_of_the_service(module):
    # A fresh interpreter: what this one has loaded already says nothing of the tool's imports.
    run = subprocess.run([sys.executable, "-c", LOADED, module, *FORBIDDEN], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == []


def imports(path):
    tree = ast.parse(path.read_text())
    return ([alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
            + [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)])


def test_every_other_top_level_tool_is_a_command_of_loadtests_postgres():
    for path in sorted((ROOT / "loadtests").glob("*.py")):
        name = f"loadtests.{path.stem}"
        if name in HTTP_TOOLS or path.stem == "__init__":
            continue
        assert imports(path) == ["sys", f"loadtests.postgres.{path.stem}"], name
        assert (ROOT / "loadtests" / "postgres" / path.name).exists(), name

