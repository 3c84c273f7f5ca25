"""The shared command-line options: the size list, the layer, and their checks."""

from __future__ import annotations

import argparse

import pytest

from chatapp.bench import connect, fanout
from chatapp.bench.options import DEFAULT_REDIS_URL, check_common, layer_env, sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000", [1000]),
        ("2000,5000,10000", [2000, 5000, 10000]),
        (" 2000 , 5000 ", [2000, 5000]),
        ("10_000,2_000", [10000, 2000]),  # the order given, not sorted
    ],
)
def test_sizes_reads_one_size_or_a_list(text: str, expected: list[int]) -> None:
    assert sizes(text) == expected


@pytest.mark.parametrize("text", ["", "a", "2000,", "2000,,5000", "0", "-5", "1.5", "2000,2000"])
def test_sizes_refuses_what_is_not_a_list_of_distinct_positive_sizes(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        sizes(text)


def test_each_benchmark_has_its_default_size_and_parses_a_list() -> None:
    assert fanout.parser().parse_args([]).clients == [1000]
    assert connect.parser().parse_args([]).clients == [2000]
    assert connect.parser().parse_args(["--clients", "2000,5000,10000"]).clients == [
        2000,
        5000,
        10000,
    ]


def test_a_bad_size_list_exits_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        fanout.parser().parse_args(["--clients", "1000,zero"])
    assert exited.value.code == 2
    assert "--clients" in capsys.readouterr().err


def _checked(*argv: str) -> argparse.Namespace:
    args = connect.parser().parse_args(list(argv))
    check_common(args, connect.PROG)
    return args


def test_the_layer_is_redis_unless_asked_and_none_with_url() -> None:
    assert _checked().layer == "redis"
    assert _checked("--layer", "memory").layer == "memory"
    assert _checked("--workers", "3").workers == 3
    assert _checked("--url", "http://127.0.0.1:8000", "--layer", "memory").layer is None


def test_the_memory_layer_refuses_more_than_one_worker() -> None:
    with pytest.raises(SystemExit, match="in-memory layer lives in one process"):
        _checked("--layer", "memory", "--workers", "2")


@pytest.mark.parametrize("argv", [["--procs", "0"], ["--repeat", "0"], ["--retries", "-1"]])
def test_impossible_counts_exit(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _checked(*argv)


def test_layer_env_sets_or_removes_redis_url_and_keeps_the_rest() -> None:
    base = {"DATABASE_URL": "postgres://db", "REDIS_URL": "redis://elsewhere:6380/2"}
    assert layer_env(base, "redis") == base
    assert layer_env({"DATABASE_URL": "x"}, "redis")["REDIS_URL"] == DEFAULT_REDIS_URL
    assert layer_env({"DATABASE_URL": "x", "REDIS_URL": ""}, "redis")["REDIS_URL"] == (
        DEFAULT_REDIS_URL
    )
    assert layer_env(base, "memory") == {"DATABASE_URL": "postgres://db"}
    assert base["REDIS_URL"] == "redis://elsewhere:6380/2"  # the caller's mapping is untouched


def test_plot_without_matplotlib_exits_before_any_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatapp.bench.options.importlib.util.find_spec", lambda name: None)
    with pytest.raises(SystemExit, match=r"chatapp\[bench\]"):
        _checked("--plot", "storm.png")
    _checked()  # without --plot matplotlib is not needed
