"""--processes N: no worker outlives its supervisor. A supervisor that ends, however it
ends, takes its workers with it; none is left serving, parented to init (as two of
test_pool_budget's once were, after a Ctrl-C that reached the supervisor before it listened
for one: it now does before the first worker starts)."""
import shutil

import psutil

from tests.support import ServerProcess


def test_workers_stop_when_the_supervisor_is_killed(database_dsn):
    server = ServerProcess(database_dsn, args=["--processes", "2", "--pool-size", "2"]).start()
    metrics_dir = ""
    try:
        workers = server.proc_children()
        assert len(workers) == 2
        # What the supervisor would have removed on its way out, had it had one.
        metrics_dir = workers[0].environ()["PROMETHEUS_MULTIPROC_DIR"]
        server.proc.kill()      # SIGKILL: the supervisor stops nothing itself
        server.proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == []
    finally:
        server.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def test_workers_stop_with_the_supervisor_on_ctrl_c(database_dsn):
    server = ServerProcess(database_dsn, args=["--processes", "2", "--pool-size", "2"]).start()
    workers = server.proc_children()
    server.stop()
    assert server.proc.returncode == 0
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
