"""Every variable of the README's configuration table, started with values it
cannot take: the program either works or stops with one line naming the
variable, never a traceback. A row added to the table is covered at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
CHATAPP = str(Path(sys.executable).with_name("chatapp"))
BAD_VALUES = ("banana", "-1")
# Every `chatapp` command but serve loads the settings (and configures the
# logging they name) first; `--version` does nothing else. `serve --help` reads
# the serve options from the environment.
COMMANDS = (("--version",), ("serve", "--help"))


def configuration_variables() -> list[str]:
    """The variable names of the first column of the README's configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1])
    return names


def base_env(tmp_path: Path) -> dict[str, str]:
    """A deployment's environment that `chatapp check` accepts, touching no service."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CHATAPP_EMBEDDED_PG_SOCKET"}
    }
    env.update(
        DATABASE_URL="postgres://chat@127.0.0.1:1/chat",  # never connected to by `check`
        SECRET_KEY="settings-test-" + "x" * 50,
        CHATAPP_DATA_DIR=str(tmp_path),
    )
    return env


def run(command: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHATAPP, *command], env=env, capture_output=True, text=True, timeout=120)


def test_the_table_is_found() -> None:
    names = configuration_variables()
    assert len(names) > 40
    assert {"DATABASE_URL", "LOG_LEVEL", "PORT", "REDIS_MAX_CONNECTIONS"} <= set(names)


def test_every_variable_works_or_says_in_one_line_what_it_takes(tmp_path: Path) -> None:
    base = base_env(tmp_path)
    cases = [
        (name, value, command)
        for name in configuration_variables()
        for value in BAD_VALUES
        for command in COMMANDS
    ]

    def outcome(case: tuple[str, str, tuple[str, ...]]) -> str | None:
        name, value, command = case
        done = run(command, {**base, name: value})
        if done.returncode == 0:
            return None
        lines = done.stderr.strip().splitlines()
        if "Traceback" not in done.stderr and len(lines) == 1 and name in lines[0]:
            return None
        return f"{name}={value!r} chatapp {' '.join(command)}: {done.stderr.strip()[-600:]}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [failure for failure in pool.map(outcome, cases) if failure]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "info"),
        ("LOG_LEVEL", "Warning"),
        ("DEBUG", "no"),
        ("HTTPS", "ON"),
        ("AVATAR_SIZE", " 128 "),
        ("THROTTLE_LOGIN", "5 per minute; 100/day"),
        ("MEDIA_STORAGE_URL", "s3://chat-media?endpoint_url=http://127.0.0.1:9&region_name=eu-1"),
    ],
)
def test_spellings_people_use_work(tmp_path: Path, name: str, value: str) -> None:
    done = run(("check",), {**base_env(tmp_path), name: value})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", [("check",), ("migrate", "--plan"), ("serve",)])
def test_a_bad_value_stops_each_command_with_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = run(command, {**base_env(tmp_path), "LOG_LEVEL": "loud", "PORT": "eighty"})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("chatapp: ") and ("LOG_LEVEL='loud'" in line or "PORT=" in line)
