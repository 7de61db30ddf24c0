"""Every example in README.md runs, as written, ids and all.

Each ```sh block of the README is marked by the line above it:

  <!-- example: development -->          run, in the README's order, against one fresh
                                          development-mode server (no secrets set, its demo
                                          data, no OPERATOR_KEY: the README says how to make one)
  <!-- example: not run: <why> -->        shown only; the reason names what runs it instead
                                          (another test) or why no test can (minutes, etcd)

A development block is read the way a shell reads it, one command at a time: `curl` is sent
with the same method, headers and body (to this server: `localhost:8000` and
`127.0.0.1:8000` are its address), `python -m …` runs on the server's database, and a
variable assignment runs in bash (so `$(…)` does). An answer must be 2xx, or the status a
`# NNN` comment after the command names; a command must exit 0. A `python -m` command
whose comment says it is `listening` is a server: it runs in the background (on a free
port, which later commands are pointed at) until the examples end. `<name>` in a command
is the id an earlier command answered: the field `name` of the latest JSON answer that
has one, or the last key id a key command printed.
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import requests

from loadtests.local_server import stop_child
from loadtests.postgres.child_server import ROOT, ServerProcess
from tests.support import tool_environment

MARKED_BLOCK = re.compile(r"^( *)<!-- example: (.+?) -->\n\1```sh\n(.*?)^\1```$", re.M | re.S)
ANY_SH_BLOCK = re.compile(r"^ *```sh$", re.M)
ADDRESSES = ("localhost:8000", "127.0.0.1:8000")
# A key id as the key CLIs print it: an operator key's, or a counterpart's (JAQPOT-1a2b3c4d).
PRINTED_KEY_ID = re.compile(r"\b(op_[0-9a-f]{12}|[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9a-f]{8})\b")
PLACEHOLDER = re.compile(r"<(\w+)>")
# The environment development mode is: none of the secrets, no bootstrap key.
DEVELOPMENT = {"CASINO_SECRET": "", "PROVIDER_SECRET": "", "KEYS_ENCRYPTION_KEY": "", "OPERATOR_KEY": ""}


def readme():
    return (ROOT / "README.md").read_text()


def blocks(text):
    """(line number, mark, the block's text, dedented) of every marked ```sh block."""
    found = []
    for match in MARKED_BLOCK.finditer(text):
        indent, mark, body = match.groups()
        lines = [line[len(indent):] for line in body.splitlines()]
        found.append((text.count("\n", 0, match.start()) + 2, mark, "\n".join(lines)))
    return found


def commands(block):
    """The block's commands: physical lines joined while a quote is open or a line ends in \\."""
    pending = ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:      # a quote still open: the command goes on
            continue
        if shlex.split(pending, comments=True):
            yield pending
        pending = ""
    assert not pending, f"unfinished command: {pending}"


def comment(command):
    """What follows the command's `#` outside quotes ('' without one)."""
    quote = None
    for i, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or command[i - 1].isspace()):
            return command[i + 1:].strip()
    return ""


def expand(command, variables):
    """$NAME and ${NAME} outside single quotes, as a shell does."""
    out, quote, i = [], None, 0
    while i < len(command):
        char = command[i]
        if char == "'" and quote != '"':
            quote = None if quote == "'" else "'"
        elif char == '"' and quote != "'":
            quote = None if quote == '"' else '"'
        elif char == "$" and quote != "'":
            match = re.match(r"\$(?:\{(\w+)\}|(\w+))", command[i:])
            if match:
                out.append(variables.get(match.group(1) or match.group(2), ""))
                i += match.end()
                continue
        out.append(char)
        i += 1
    return "".join(out)


class Shell:
    """The reader's shell, against the test's development server."""

    def __init__(self, server, dsn):
        self.server = server
        self.address = urlsplit(server.url).netloc
        self.variables = {}
        # What the README's CLIs find on their own next to a server on port 8000: its database
        # and its address (CLIs that call it default to 127.0.0.1:8000).
        self.environment = tool_environment(DATABASE_URL=dsn, PROVIDER_URL=server.url, CASINO_URL=server.url)
        self.answers = []       # JSON answers and printed texts, oldest first
        self.addresses = dict.fromkeys(ADDRESSES, self.address)
        self.background = []

    def point(self, text):
        for written, actual in self.addresses.items():
            text = text.replace(written, actual)
        return text

    def fill(self, command):
        def value(match):
            name = match.group(1)
            for answer in reversed(self.answers):
                found = find(answer, name)
                if found is not None:
                    return str(found)
            raise AssertionError(f"<{name}>: no earlier answer has it ({command})")
        return PLACEHOLDER.sub(value, command)

    def run(self, command):
        expected = comment(command)
        words = shlex.split(self.point(self.fill(expand(command, self.variables))), comments=True)
        assignments = [w for w in words if re.match(r"\w+=", w)]
        if words[0] == "export" or len(assignments) == len(words):
            return self.assign(command)
        env = dict(self.environment, **self.variables, **dict(w.split("=", 1) for w in assignments))
        words = words[len(assignments):]
        if words[0] == "curl":
            return self.curl(words[1:], expected)
        if words[:2] == ["python", "-m"]:
            return self.python(words[2:], env, expected)
        raise AssertionError(f"no way to run {command!r}: mark its block 'not run' with why")

    def assign(self, command):
        """In bash, with the shell's variables: what it assigned."""
        names = re.findall(r"(?:^|\s)(?:export\s+)?(\w+)=", command.split("#")[0])
        script = command + "\n" + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
        env = dict(self.environment, **self.variables)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"    # `python` is this one
        run = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        values = run.stdout.split("\0")[:-1]
        self.variables.update(zip(names, values, strict=True))
        assert all(values), f"{command}: assigned nothing ({run.stderr})"

    def curl(self, args, expected):
        method, headers, data, url = None, {}, None, None
        args = iter(args)
        for arg in args:
            if arg in ("-s", "--silent"):
                continue
            if arg in ("-X", "--request"):
                method = next(args)
            elif arg in ("-H", "--header"):
                name, value = next(args).split(":", 1)
                headers[name.strip()] = value.strip()
            elif arg in ("-d", "--data"):
                data = next(args).encode()
                # curl's default for -d, which the examples rely on the server taking
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                assert not arg.startswith("-"), f"curl option {arg} is not one this test sends alike"
                url = arg if "://" in arg else "http://" + arg
        r = requests.request(method or ("POST" if data is not None else "GET"), url, headers=headers, data=data,
                             timeout=30)
        status = re.match(r"(\d{3})\b", expected)
        if status:
            assert r.status_code == int(status.group(1)), f"{url}: {r.status_code} {r.text}"
        else:
            assert 200 <= r.status_code < 300, f"{url}: {r.status_code} {r.text}"
        self.answers.append(r.json() if "json" in r.headers.get("Content-Type", "") else r.text)

    def python(self, args, env, expected):
        argv = [sys.executable, "-m", *args]
        if expected.startswith("listening"):
            return self.serve(argv, env)
        run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{' '.join(args)}: exit {run.returncode}\n{run.stdout}{run.stderr}"
        self.answers.append(run.stdout)

    def serve(self, argv, env):
        """A server the README starts (and leaves running): here on a free port, which the
        later commands are pointed at instead of the README's."""
        port = argv[argv.index("--port") + 1]
        argv[argv.index("--port") + 1] = "0"
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        self.background.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("listening "), f"{' '.join(argv)}: {line!r}"
        self.addresses[f"127.0.0.1:{port}"] = urlsplit(line.split()[1]).netloc

    def close(self):
        for proc in self.background:
            stop_child(proc)


def find(answer, name):
    """The value of field `name` anywhere in a JSON answer (depth first), or the key id a
    command printed."""
    if isinstance(answer, str):
        printed = PRINTED_KEY_ID.findall(answer) if name == "keyId" else []
        return printed[-1] if printed else None     # a listing's newest, a rotation's new key
    if isinstance(answer, dict):
        if name in answer:
            return answer[name]
        answer = list(answer.values())
    if isinstance(answer, list):
        for item in answer:
            found = find(item, name)
            if found is not None:
                return found
    return None


def test_every_shell_example_is_marked_run_or_not_and_why():
    text = readme()
    marked = {number for number, _, _ in blocks(text)}
    unmarked = [text.count("\n", 0, m.start()) + 1 for m in ANY_SH_BLOCK.finditer(text)
                if text.count("\n", 0, m.start()) + 1 not in marked]
    assert unmarked == [], f"README.md lines {unmarked}: ```sh blocks without <!-- example: ... -->"
    for number, mark, _ in blocks(text):
        assert mark == "development" or re.fullmatch(r"not run: \S.*", mark), f"README.md:{number}: {mark}"


def test_no_curl_example_goes_unrun():
    """Every curl of the README (in a block or in the text) is in a block that runs."""
    text = readme()
    run = "\n".join(body for _, mark, body in blocks(text) if mark == "development")
    assert text.count("curl -s") == run.count("curl -s")


def test_the_development_examples_run_on_a_fresh_server(fresh_dsn):
    server = ServerProcess(fresh_dsn, extra_env=DEVELOPMENT, demo_data=None, test_driver=False).start()
    shell = Shell(server, fresh_dsn)
    try:
        for number, mark, body in blocks(readme()):
            if mark != "development":
                continue
            for command in commands(body):
                try:
                    shell.run(command)
                except AssertionError as failed:
                    raise AssertionError(f"README.md block at line {number}: {command}\n{failed}") from None
    finally:
        shell.close()
        server.stop()
    # What the examples did left the ledger as the audit wants it.
    audit = subprocess.run([sys.executable, "-m", "casino.audit"], cwd=ROOT, env=shell.environment,
                           capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr
