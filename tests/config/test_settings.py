"""Every variable of the README's configuration table, started with values it
cannot take: the program either works or stops with one line naming the
variable, never a traceback. A row added to the table is covered at once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


SENTINELS = {"REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.1:26380", "REDIS_SENTINEL_MASTER": "chat"}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"REDIS_SENTINELS": "127.0.0.1:26379"}, "REDIS_SENTINEL_MASTER is not set"),
        ({"REDIS_SENTINEL_MASTER": "chat"}, "REDIS_SENTINELS is not set"),
        ({**SENTINELS, "REDIS_URL": "redis://r:6379/0"}, "REDIS_URL and REDIS_SENTINELS"),
        (
            {**SENTINELS, "REDIS_LAYER_URLS": "redis://r:6379/0"},
            "REDIS_LAYER_URLS and REDIS_SENTINELS",
        ),
        ({"REDIS_LAYER_URLS": "redis://r:6379/0,redis://s:6379/0"}, "REDIS_URL is not set"),
    ],
)
def test_redis_settings_that_do_not_fit_together_stop_in_one_line(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    done = run(("--version",), {**base_env(tmp_path), **values})
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert named in line


def layer_config(tmp_path: Path, **values: str) -> dict[str, Any]:
    """CHANNEL_LAYERS["default"]["CONFIG"] as the settings build it from ``values``."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CHANNEL_LAYERS['default']['CONFIG']))"
    )
    env = {**base_env(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **values}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def test_the_layer_finds_its_master_through_the_sentinels(tmp_path: Path) -> None:
    config = layer_config(tmp_path, **SENTINELS, REDIS_PASSWORD="p1", REDIS_SENTINEL_PASSWORD="p2")
    [host] = config["hosts"]
    assert host["sentinels"] == [["127.0.0.1", 26379], ["127.0.0.1", 26380]]
    assert (host["master_name"], host["password"]) == ("chat", "p1")
    assert host["sentinel_kwargs"]["password"] == "p2"
    assert host["socket_timeout"] >= 6  # above channels-redis' 5 s blocking read


def test_the_layer_is_sharded_over_the_layer_urls_only(tmp_path: Path) -> None:
    config = layer_config(
        tmp_path,
        REDIS_URL="redis://main:6379/0",
        REDIS_LAYER_URLS="redis://s1:6379/0, redis://s2:6379/0",
    )
    assert [host["address"] for host in config["hosts"]] == [
        "redis://s1:6379/0",
        "redis://s2:6379/0",
    ]
    one = layer_config(tmp_path, REDIS_URL="redis://main:6379/0")
    assert [host["address"] for host in one["hosts"]] == ["redis://main:6379/0"]
