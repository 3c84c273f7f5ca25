"""The folder where the workers of one ``chatapp serve`` write their metrics
(prometheus-client's multiprocess mode), and the watch that forgets dead ones.

prometheus-client picks its mode when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``: ``chatapp serve`` calls ``prepare`` before
anything imports it, and its workers inherit the variable. The folder starts
empty each time: files left by an earlier run would add its totals to this
one's. Counters of a worker that died stay (a total never goes back); its
gauges (open sockets, subscriptions) go as soon as the watch sees it gone,
which a worker killed with SIGKILL could not do itself.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

# Nothing here imports prometheus_client at module level: ``prepare`` must run
# before it is first imported.
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Files of the gauges that count live workers only: gauge_live<mode>_<pid>.db
LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")
WATCH_INTERVAL = 1.0  # seconds between two looks for dead workers


def prepare() -> Path:
    """An empty folder for this server's metrics, named in the environment for
    the workers: ``$PROMETHEUS_MULTIPROC_DIR`` when the operator set one (its
    old metric files removed), else a new temporary one removed at exit."""
    given = os.environ.get(MULTIPROC_DIR_VARIABLE, "").strip()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="chatapp-metrics-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[MULTIPROC_DIR_VARIABLE] = str(path)
    return path


def dead_workers(path: Path) -> set[int]:
    """Processes with live gauges in ``path`` that no longer run."""
    pids = {int(m[1]) for f in os.listdir(path) if (m := LIVE_GAUGE_FILE.match(f))}
    return {pid for pid in pids if not _running(pid)}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: the pid was reused, not ours to judge
    # Exited but not yet reaped by uvicorn's supervisor: dead all the same.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def forget_dead_workers(path: Path) -> set[int]:
    """Drop the live gauges of workers that are gone; the pids dropped."""
    from prometheus_client import multiprocess

    dead = dead_workers(path)
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(path))
    return dead


def watch(path: Path, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Forget dead workers every ``interval`` seconds, in a daemon thread of the
    server's main process (which outlives its workers)."""

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            with contextlib.suppress(OSError):
                forget_dead_workers(path)

    thread = threading.Thread(target=loop, name="chatapp-metrics-watch", daemon=True)
    thread.start()
    return thread
