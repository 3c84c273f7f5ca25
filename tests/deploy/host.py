"""Helpers of the host-install tests: render with ``chatapp deploy install``
(or ``deploy/install.sh render``), put the rendered tree in place under a test
folder the way install.sh's ``apply`` does (without the owners: the test runs
as one user), and read the units' own lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.server import CHATAPP, base_env

ROOT = Path(__file__).parents[2]
INSTALL_SH = ROOT / "deploy" / "install.sh"
SYSTEMD_DIR = Path("/etc/systemd/system")
NGINX_SITE = Path("/etc/nginx/sites-available/chatapp.conf")


@dataclass(frozen=True)
class Row:
    kind: str
    mode: str
    owner: str
    group: str
    path: Path


def install_env(folder: Path, **values: str) -> dict[str, str]:
    """The variables of an install whose every path is under ``folder``, with
    the test's virtualenv as the release (so the units' commands exist)."""
    env = {key: value for key, value in base_env().items() if not key.startswith("CHATAPP_")}
    env |= {
        "CHATAPP_ETC_DIR": str(folder / "etc"),
        "CHATAPP_DATA_DIR": str(folder / "data"),
        "CHATAPP_VENV": sys.prefix,
    }
    env.update(values)
    return env


def render(
    env: dict[str, str], out: Path, root: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [CHATAPP, "deploy", "install", "--out", str(out)]
    if root is not None:
        command += ["--root", str(root)]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def rendered(env: dict[str, str], out: Path, root: Path | None = None) -> Path:
    result = render(env, out, root)
    assert result.returncode == 0, result.stderr
    return out


def manifest(out: Path) -> list[Row]:
    rows = []
    for line in (out / "manifest").read_text().splitlines():
        kind, mode, owner, group, path = line.split("\t")
        rows.append(Row(kind, mode, owner, group, Path(path)))
    return rows


def tree_file(out: Path, path: Path) -> Path:
    return out / "files" / path.relative_to("/")


def apply(out: Path, root: Path) -> None:
    """install.sh's ``apply`` with every path under ``root`` (and no chown)."""
    for row in manifest(out):
        target = root / row.path.relative_to("/")
        if row.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tree_file(out, row.path), target)
        target.chmod(int(row.mode, 8))


def apply_in_place(out: Path, folder: Path) -> None:
    """Put the rows that live under ``folder`` (settings, data) at their own
    paths, as install.sh would; units and the nginx site stay in the tree."""
    for row in manifest(out):
        if not row.path.is_relative_to(folder):
            continue
        if row.kind == "dir":
            row.path.mkdir(parents=True, exist_ok=True)
        else:
            shutil.copyfile(tree_file(out, row.path), row.path)
        row.path.chmod(int(row.mode, 8))


def unit(out: Path, name: str) -> str:
    return tree_file(out, SYSTEMD_DIR / name).read_text()


def unit_values(text: str, key: str) -> list[str]:
    """Every value of ``key`` in a unit, in order (ExecStart may repeat)."""
    prefix = f"{key}="
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


def instance_command(line: str, instance: str) -> list[str]:
    """An ExecStart line of a template unit, with systemd's %i filled in."""
    assert "%" not in line.replace("%i", ""), f"a specifier the test does not expand: {line}"
    return line.replace("%i", instance).split()


def parse_env_file(path: Path) -> dict[str, str]:
    """The environment file as systemd reads what the installer writes."""
    values = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    return values


def service_env(out: Path, unit_text: str) -> dict[str, str]:
    """The environment a unit's command gets: its EnvironmentFile over a bare
    environment (systemd passes no DATABASE_URL or PYTHON* of the caller)."""
    (env_file,) = unit_values(unit_text, "EnvironmentFile")
    bare = {key: value for key, value in os.environ.items() if key in {"PATH", "LANG", "HOME"}}
    return bare | parse_env_file(Path(env_file))
