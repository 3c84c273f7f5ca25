"""--plot: the series drawn, and the figure itself (with the bench extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatapp.bench.connect import Connect
from chatapp.bench.fanout import Fanout
from chatapp.bench.plot import plot_sizes, series


def _size(clients: int, ours: dict[str, Any], floor: dict[str, Any] | None) -> dict[str, Any]:
    median = {"chatapp": ours} if floor is None else {"chatapp": ours, "floor": floor}
    return {"clients": clients, "median": median}


SIZES = [
    _size(10000, {"latency_p50_ms": 30.0, "latency_p99_ms": 90.0}, {"latency_p50_ms": 20.0}),
    _size(2000, {"latency_p50_ms": 10.0, "latency_p99_ms": None}, {"latency_p50_ms": 8.0}),
    _size(5000, {"latency_p50_ms": 20.0, "latency_p99_ms": 60.0}, None),
]


def test_series_is_by_increasing_n_and_skips_sizes_without_the_figure() -> None:
    assert series(SIZES, "chatapp", "latency_p50_ms") == ([2000, 5000, 10000], [10.0, 20.0, 30.0])
    assert series(SIZES, "chatapp", "latency_p99_ms") == ([5000, 10000], [60.0, 90.0])
    assert series(SIZES, "floor", "latency_p50_ms") == ([2000, 10000], [8.0, 20.0])
    assert series(SIZES, "floor", "missing") == ([], [])


def test_each_benchmark_plots_latency_and_server_cpu_and_connect_plots_connects() -> None:
    for bench in (Fanout, Connect):
        keys = {metric.key for _, metrics in bench.plots for metric in metrics}
        assert {"latency_p50_ms", "latency_p99_ms"} <= keys
        assert keys <= {metric.key for metric in bench.metrics}  # only measured figures
    assert "server_cpu_us_per_delivery" in {m.key for _, ms in Fanout.plots for m in ms}
    assert {"connects_per_s", "server_cpu_ms_per_connect"} <= {
        m.key for _, ms in Connect.plots for m in ms
    }


def test_plot_draws_ours_and_the_floor_in_each_panel(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    sizes = [
        _size(
            n,
            {"latency_p50_ms": n / 100, "latency_p99_ms": n / 50, "server_cpu_us_per_delivery": 17},
            {"latency_p50_ms": n / 200, "latency_p99_ms": n / 80, "server_cpu_us_per_delivery": 12},
        )
        for n in (2000, 5000, 10000)
    ]
    out = tmp_path / "fanout.png"
    figure = plot_sizes(str(out), "fanout", sizes, Fanout.plots)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    latency, cpu = figure.axes
    assert sorted(line.get_label() for line in latency.get_lines()) == [
        "chatapp p50",
        "chatapp p99",
        "floor p50",
        "floor p99",
    ]
    assert sorted(line.get_label() for line in cpu.get_lines()) == ["chatapp", "floor"]
    ours_p99 = next(line for line in latency.get_lines() if line.get_label() == "chatapp p99")
    assert list(ours_p99.get_xdata()) == [2000, 5000, 10000]
    assert list(ours_p99.get_ydata()) == [40.0, 100.0, 200.0]


def test_the_benchmarks_import_matplotlib_only_to_plot() -> None:
    code = (
        "import sys, chatapp.bench.fanout, chatapp.bench.connect, chatapp.bench.runs; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
