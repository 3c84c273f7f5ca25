"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

pgserver ships a real PostgreSQL in a wheel. It listens on a Unix socket inside
its data folder only (as root it runs the server as its own ``pgserver`` user).
The first process that needs it starts it and exports the socket folder, so
child processes (uvicorn workers, test servers) join that server instead of
starting their own. The process that started it stops it when it exits; a
server found already running (another ``chatapp`` on the same data folder) is
joined and left running.
"""

from __future__ import annotations

import atexit
import logging
import os
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
# pgserver logs every command at INFO, also from atexit when streams may be closed.
logging.getLogger("pgserver").setLevel(logging.WARNING)

# Set by the process that started the embedded server; read by its children.
SOCKET_ENV = "CHATAPP_EMBEDDED_PG_SOCKET"


def embedded_database(data_dir: Path) -> dict[str, Any]:
    """Return Django database settings for the embedded server, starting it if needed."""
    socket_dir = os.environ.get(SOCKET_ENV) or _start(data_dir / "pgdata")
    os.environ[SOCKET_ENV] = socket_dir
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def is_embedded() -> bool:
    return bool(os.environ.get(SOCKET_ENV)) and not os.environ.get("DATABASE_URL")


def _start(pgdata: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; /tmp is fine.
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.utils import PostmasterInfo

    pgdata.mkdir(parents=True, exist_ok=True)
    found = PostmasterInfo.read_from_pgdata(pgdata)
    already_running = found is not None and found.is_running()
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    if not already_running:
        atexit.register(_stop, server)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:  # pragma: no cover - pgserver always uses a socket on POSIX
        raise RuntimeError("embedded PostgreSQL did not report a socket folder")
    logger.info("embedded PostgreSQL running in %s", pgdata)
    return str(socket_dir)


def _stop(server: Any) -> None:
    import pgserver

    pg_ctl = pgserver.pg_ctl  # type: ignore[attr-defined]  # made at import time
    try:
        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30
        )
    except Exception:  # already stopped, or stopping anyway
        logger.warning("could not stop the embedded PostgreSQL cleanly", exc_info=True)
