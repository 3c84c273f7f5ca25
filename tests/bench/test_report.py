"""Medians, ratios, percentiles and the tables of the benchmark reports."""

from __future__ import annotations

from typing import Any

import pytest

from chatapp.bench.clients import chunks
from chatapp.bench.report import (
    Metric,
    cell,
    median,
    medians,
    percentile,
    ratio,
    ratios,
    render_size,
    render_sizes,
    size_report,
)

METRICS = (
    Metric("per_s", "things/s", ratio=True),
    Metric("p99_ms", "p99 (ms)", ratio=True),
    Metric("lost", "lost"),
)


def test_percentile_is_the_nearest_rank_of_an_ascending_list() -> None:
    hundred = [float(v) for v in range(1, 101)]
    assert percentile(hundred, 0.50) == 50.0
    assert percentile(hundred, 0.99) == 99.0
    assert percentile(hundred, 1.0) == 100.0
    assert percentile(hundred, 0.0) == 1.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0  # rank ceil(2) = 2, not a mean
    assert percentile([], 0.5) is None


def test_median_ignores_missing_values_and_keeps_whole_integers() -> None:
    assert median([3, 1, 2]) == 2
    assert isinstance(median([3, 1, 2]), int)
    assert median([1, 2]) == 1.5
    assert median([1.0, None, 2.0, 4.0]) == 2.0
    assert median([0.123456]) == 0.12
    assert median([None, "x"]) is None
    assert median([]) is None


def test_ratio_is_ours_over_the_floor_or_nothing() -> None:
    assert ratio(30.0, 20.0) == 1.5
    assert ratio(1.0, 3.0) == 0.333
    assert ratio(None, 2.0) is None
    assert ratio(2.0, None) is None
    assert ratio(2.0, 0) is None


def _run(ours: dict[str, Any], floor: dict[str, Any] | None = None) -> dict[str, Any]:
    run = {"source": None, "chatapp": ours}
    if floor is not None:
        run["floor"] = floor
    return run


def test_medians_and_ratios_per_target_over_runs() -> None:
    runs = [
        _run({"per_s": 100.0, "p99_ms": 30.0, "lost": 0}, {"per_s": 200.0, "p99_ms": 10.0}),
        _run({"per_s": 300.0, "p99_ms": 50.0, "lost": 2}, {"per_s": 200.0, "p99_ms": 20.0}),
        _run({"per_s": 200.0, "p99_ms": 40.0, "lost": 0}, {"per_s": 400.0, "p99_ms": 30.0}),
    ]
    found = medians(runs, METRICS)
    assert found["chatapp"] == {"per_s": 200.0, "p99_ms": 40.0, "lost": 0}
    assert found["floor"] == {"per_s": 200.0, "p99_ms": 20.0, "lost": None}
    # Only metrics marked as ratios, each the ratio of the medians.
    assert ratios(found, METRICS) == {"per_s": 1.0, "p99_ms": 2.0}


def test_without_the_floor_there_are_no_ratios() -> None:
    found = medians([_run({"per_s": 5.0, "p99_ms": 1.0, "lost": 0})], METRICS)
    assert "floor" not in found
    assert ratios(found, METRICS) == {"per_s": None, "p99_ms": None}


def test_cell_formats_for_reading() -> None:
    assert cell(None) == "-"
    assert cell(12345) == "12,345"
    assert cell(20085.0) == "20,085"
    assert cell(1.5) == "1.50"
    assert cell("x") == "x"


def _size(clients: int, ours: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    return size_report(clients, [_run(ours, floor)], [], METRICS)


def test_render_size_shows_each_metric_beside_the_floor_with_its_ratio() -> None:
    size = _size(
        1000, {"per_s": 900.0, "p99_ms": 45.0, "lost": 0}, {"per_s": 1000.0, "p99_ms": 15.0}
    )
    size["targets"] = {"fast": False, "whole": True, "unknown": None}
    size["notes"].append("something to know")
    text = render_size(
        size,
        heading=["a heading"],
        metrics=METRICS,
        target_labels={"fast": "p99 <= 2 x floor", "whole": "nothing lost", "unknown": "x"},
    )
    lines = text.splitlines()
    assert lines[0] == "a heading"
    row = next(line for line in lines if line.startswith("p99 (ms)"))
    assert row.split()[-3:] == ["45.00", "15.00", "3.00"]
    lost = next(line for line in lines if line.startswith("lost"))
    assert lost.split() == ["lost", "0", "-"]  # no ratio column for counts
    assert "note: something to know" in lines
    verdicts = [line.rsplit(" ", 1)[-1] for line in lines if line.startswith("target:")]
    assert verdicts == ["FAILS", "holds", "n/a"]


def test_render_size_warns_of_discarded_and_busy_runs() -> None:
    size = size_report(10, [{"chatapp": {"per_s": 1.0}, "busy_kept": True}], [{}, {}], METRICS)
    text = render_size(size, heading=[], metrics=METRICS, target_labels={})
    assert "2 run(s) discarded" in text
    assert "1 run(s) kept although other programs were busy" in text


def test_render_sizes_has_one_row_per_size_in_order() -> None:
    sizes = [
        _size(2000, {"per_s": 10.0, "p99_ms": 4.0, "lost": 0}, {"per_s": 20.0, "p99_ms": 2.0}),
        _size(10000, {"per_s": 5.0, "p99_ms": 9.0, "lost": 1}, {"per_s": 20.0, "p99_ms": 3.0}),
    ]
    lines = render_sizes(sizes, METRICS).splitlines()
    assert len(lines) == 4  # title, header, two sizes
    assert lines[1].split()[0] == "N"
    assert lines[2].lstrip().startswith("2,000")
    assert "10.00 / 20.00 (0.50x)" in lines[2]
    assert lines[3].lstrip().startswith("10,000")
    assert "9.00 / 3.00 (3.00x)" in lines[3]
    assert lines[3].rstrip().endswith("1 / -")


@pytest.mark.parametrize(("count", "parts"), [(10, 3), (3, 8), (1, 1), (7, 7)])
def test_chunks_deal_every_item_once_into_non_empty_parts(count: int, parts: int) -> None:
    items = list(range(count))
    dealt = chunks(items, parts)
    assert len(dealt) == min(count, parts)
    assert all(dealt)
    assert sorted(item for chunk in dealt for item in chunk) == items
    assert max(map(len, dealt)) - min(map(len, dealt)) <= 1
