"""--processes N: the parent runs N `server.py --worker` processes that share the port with
SO_REUSEPORT (the kernel spreads connections over them), each with its own pool.

The parent has done the database work (start, migrations) once before; it holds the port,
prints the banner when every worker is ready, and on a signal -- or a worker's death --
stops them all. A worker never outlives it: the parent's Ctrl-C at any moment, even before
the workers are ready, stops them, and a parent killed outright (SIGKILL) takes them with
it (Linux's parent-death signal), rather than leaving them serving, parented to init.
"""
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from .settings import worker_arguments

log = logging.getLogger("server")

SERVER_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server.py")
_PR_SET_PDEATHSIG = 1   # <linux/prctl.h>


def _terminated_with(parent_pid):
    """For Popen's preexec_fn: the worker gets SIGTERM (its clean stop) when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)

    def in_child():
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:     # the parent died before the signal was asked for
            os.kill(os.getpid(), signal.SIGTERM)
    return in_child


def supervise(settings, holder, database_dsn, banner, grace_seconds):
    """Run the workers until a signal (or a worker's death), then stop them; exit code.
    holder: the port's socket (service/startup.py hold_port); banner(port) -> text."""
    port = holder.getsockname()[1]
    command = [sys.executable, SERVER_PY, *worker_arguments(settings, port)]
    # prometheus-client's multiprocess mode: every worker writes its samples here.
    metrics_dir = tempfile.mkdtemp(prefix="casino-metrics-")
    env = dict(os.environ, DATABASE_URL=database_dsn, PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    processes = settings.worker_processes
    if settings.pool_size < processes:
        # Each worker needs a connection: the budget cannot hold, and the operator should know.
        log.warning("DB_POOL_SIZE %d is below the %d workers: each opens one connection, %d in all",
                    settings.pool_size, processes, processes)
    # Before any worker starts: a signal from now on is a request to stop them all, however
    # early it comes (a KeyboardInterrupt while waiting for them would leave them running).
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    on_parent_death = _terminated_with(os.getpid()) if sys.platform == "linux" else None
    workers = [subprocess.Popen(command + (["--no-reconcile"] if i else []), env=env, stdout=subprocess.PIPE,
                                text=True, preexec_fn=on_parent_death) for i in range(processes)]
    failed = False
    for worker in workers:
        line = worker.stdout.readline() if worker.stdout else ""
        if not line.startswith("worker"):
            log.error("a worker failed to start")
            failed = True
            break
    if not (failed or stop.is_set()):
        print(banner(port), flush=True)
        # A worker that dies takes the service down with it, loudly, rather than serving
        # on with less capacity than asked for.
        while not stop.wait(0.5):
            if any(w.poll() is not None for w in workers):
                log.error("a worker exited; stopping the others")
                failed = True
                break
    print("shutting down: workers finish requests in flight", flush=True)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(grace_seconds + settings.shutdown_delay + 5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    holder.close()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return max([abs(w.returncode or 0) for w in workers] + [1 if failed else 0])
