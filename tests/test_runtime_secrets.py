"""The tests' and the load tools' secrets stay out of the runtime: they are public in this
repository, so a service that carried them could be started with a key anyone can read. They
live with the server child process that uses them (loadtests/postgres/child_server.py); no
file of the service holds one of their values, and no module of it imports that module."""
import ast

import pytest

from loadtests.postgres import child_server
from tests.support import ROOT

RUNTIME = ("casino", "provider", "db", "wire", "service", "sql")
SECRETS = {"CASINO_SECRET": child_server.CASINO_SECRET.decode(),
           "PROVIDER_SECRET": child_server.PROVIDER_SECRET.decode(),
           "OPERATOR_KEY": child_server.OPERATOR_KEY,
           "KEYS_ENCRYPTION_KEY": child_server.KEYS_ENCRYPTION_KEY}
HOLDER = child_server.__name__


def runtime_files():
    """server.py and every file the runtime packages hold (code, SQL, templates)."""
    return [ROOT / "server.py", *(path for package in RUNTIME for path in sorted((ROOT / package).rglob("*"))
                                  if path.is_file() and "__pycache__" not in path.parts)]


def imported(path):
    """Every module a runtime file's code names in an import, functions' own included."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_holder_is_outside_the_runtime():
    assert HOLDER.split(".")[0] not in {*RUNTIME, "server"}
    assert not (ROOT / "service" / "child_server.py").exists()


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_no_runtime_file_holds_the_secret(name):
    value = SECRETS[name]
    holding = [str(path.relative_to(ROOT)) for path in runtime_files()
               if value in path.read_bytes().decode("utf-8", "replace")]
    assert holding == []


def test_no_runtime_module_imports_the_module_holding_them():
    importing = sorted(f"{path.relative_to(ROOT)}: {module}" for path in runtime_files() if path.suffix == ".py"
                       for module in imported(path)
                       if module == HOLDER or module.startswith(f"{HOLDER}.") or module.endswith("child_server"))
    assert importing == []
