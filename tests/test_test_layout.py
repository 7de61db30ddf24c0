"""The tests' own layout, so that a newcomer finds things where they are told to look: a
test module imports helpers from the support modules (tests/support.py and the modules named
for what they hold: fault_load, pattern_samples, fake_peer, ...), never from another test
module or from conftest.py; and an error body's code is read by one helper,
tests.support.error_code, written nowhere else."""
import ast

import pytest

from tests.support import ROOT

TESTS = ROOT / "tests"
MODULES = sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)
# What a helper reading an error body's code has been called.
CODE_HELPERS = {"code", "error_code"}


def is_test_module(name):
    """Whether the dotted name `name` is a test module of tests/ (or its conftest.py)."""
    parts = name.split(".")
    if parts[0] == "tests":
        parts = parts[1:]
    return len(parts) == 1 and (parts[0].startswith("test_") or parts[0] == "conftest")


def imported(tree):
    """The modules a module's code imports, by dotted name; `from tests import x` counts as
    tests.x, a relative import as one of tests/."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            package = "tests" if node.level else (node.module or "")
            module = f"{package}.{node.module}" if node.level and node.module else package
            names.append(module)
            if module == "tests":
                names += [f"tests.{alias.name}" for alias in node.names]
    return names


def code_helpers(tree):
    """The functions (or lambdas given a name) of a module that are called code/error_code."""
    found = [node.name for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in CODE_HELPERS]
    found += [target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)
              for target in node.targets if isinstance(target, ast.Name) and target.id in CODE_HELPERS]
    return found


@pytest.mark.parametrize("source, expected", [
    ("from tests.test_wallet import Player", ["tests.test_wallet"]),
    ("import tests.test_crash", ["tests.test_crash"]),
    ("from tests import test_openapi, support", ["tests", "tests.test_openapi", "tests.support"]),
    ("from .test_failover import TimedLoad", ["tests.test_failover"]),
    ("from . import conftest", ["tests", "tests.conftest"]),
    ("def f():\n    from tests.conftest import x", ["tests.conftest"]),
])
def test_every_way_of_importing_is_read(source, expected):
    assert imported(ast.parse(source)) == expected


@pytest.mark.parametrize("source, expected", [
    ("def code(r):\n    return r", ["code"]),
    ("class A:\n    def error_code(self, r):\n        return r", ["error_code"]),
    ("code = lambda r: r.json()['error']['code']", ["code"]),
    ("code = 'T-1'\ndef new_code():\n    return code", []),
])
def test_every_way_of_writing_a_code_helper_is_found(source, expected):
    assert code_helpers(ast.parse(source)) == expected


def test_no_module_of_the_tests_imports_a_test_module_or_conftest():
    assert TESTS / "test_wallet.py" in MODULES
    importing = {str(path.relative_to(TESTS)): [name for name in imported(ast.parse(path.read_text())) if is_test_module(name)]
                 for path in MODULES}
    assert {name: modules for name, modules in importing.items() if modules} == {}


def test_an_error_bodys_code_is_read_by_one_helper():
    defined = {str(path.relative_to(TESTS)): code_helpers(ast.parse(path.read_text())) for path in MODULES}
    assert defined.pop("support.py") == ["error_code"]
    assert {name: helpers for name, helpers in defined.items() if helpers} == {}
