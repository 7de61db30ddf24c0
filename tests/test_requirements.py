"""Installs that fit their use: requirements.txt is the runtime, pinned and complete;
requirements-dev.txt adds the tests, checkers and load tools on top of it, and the runtime
(server.py, what it imports, and the service's command-line tools) imports nothing that
only the second file brings."""
import ast
import importlib.metadata
import re
import subprocess
import sys

from packaging.requirements import Requirement

from tests.support import ROOT

RUNTIME_PACKAGES = ("service", "casino", "provider", "wire", "db", "sql")
# The command-line tools an operator runs against a deployment (README).
RUNTIME_TOOLS = ("sql.migrate", "service.demo_data", "casino.keys", "provider.keys", "casino.audit",
                 "casino.synthetic", "provider.reconcile", "db.cluster")


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(file):
    """{distribution: Requirement} of a requirements file, its includes (-r) left out."""
    found = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            found[normalized(requirement.name)] = requirement
    return found


RUNTIME = requirements("requirements.txt")
DEV = requirements("requirements-dev.txt")


def modules_of(distributions):
    """The top-level modules that only these distributions provide (as installed here)."""
    return {module for module, providers in importlib.metadata.packages_distributions().items()
            if {normalized(p) for p in providers} <= distributions}


def runtime_files():
    return [ROOT / "server.py", *(path for package in RUNTIME_PACKAGES for path in (ROOT / package).rglob("*.py"))]


def imported_top_levels(path):
    """Every absolute import of a file, functions' own imports included."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_the_dev_file_includes_the_runtime_and_every_line_is_pinned():
    first = next(line for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    assert first == "-r requirements.txt"
    assert not set(RUNTIME) & set(DEV)
    assert [str(r) for r in [*RUNTIME.values(), *DEV.values()] if len(r.specifier) != 1
            or next(iter(r.specifier)).operator != "=="] == []


def test_the_runtime_requirements_bring_their_own_dependencies():
    """Each runtime distribution's dependencies (with the extras asked for) are pinned in
    requirements.txt too, so none is pulled unpinned, or only by the dev file."""
    unpinned = set()
    for name, requirement in RUNTIME.items():
        for text in importlib.metadata.requires(name) or ():
            dependency = Requirement(text)
            environments = [{"extra": extra} for extra in requirement.extras or [""]]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                if normalized(dependency.name) not in RUNTIME:
                    unpinned.add(f"{name} needs {dependency.name}")
    assert sorted(unpinned) == []


def test_the_runtime_imports_only_what_requirements_txt_brings():
    """Read from the source: imports inside functions count too."""
    ours = {*RUNTIME_PACKAGES, "server", "tests", "loadtests"}
    runtime_modules = modules_of(set(RUNTIME))
    outside = {f"{path.relative_to(ROOT)}: {module}" for path in runtime_files()
               for module in imported_top_levels(path)
               if module not in sys.stdlib_module_names and module not in ours and module not in runtime_modules}
    assert sorted(outside) == []


def test_server_and_the_tools_import_with_the_dev_packages_refused():
    """Imported for real in a fresh interpreter that refuses every module only the dev file
    brings; nothing of theirs is loaded afterwards either."""
    refused = sorted(modules_of(set(DEV)))
    assert {"pytest", "locust", "schemathesis", "selenium", "mypy"} <= set(refused)
    program = f"""
import importlib.abc, sys
REFUSED = set({refused!r})
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ImportError(f"{{name}} is a development package (requirements-dev.txt)")
sys.meta_path.insert(0, Refuse())
for module in ["server", "service.app", *{RUNTIME_TOOLS!r}]:
    importlib.import_module(module)
print(sorted({{m.split(".")[0] for m in sys.modules}} & REFUSED))
"""
    run = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"
