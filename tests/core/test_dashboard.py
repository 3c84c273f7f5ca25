"""deploy/grafana/chatapp.json graphs what the server exports: every query
names metric families the server defines, and every family of PROTOCOL.md
"Operations" has a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import chatapp.core.metrics  # noqa: F401  (defines the families)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "chatapp.json"
PROTOCOL_FAMILIES = {
    "chatapp_ws_connections",
    "chatapp_ws_subscriptions",
    "chatapp_ws_connects_total",
    "chatapp_ws_disconnects_total",
    "chatapp_ws_frames_in_total",
    "chatapp_ws_frames_out_total",
    "chatapp_deliveries_total",
    "chatapp_resumes_total",
    "chatapp_gap_fills_total",
    "chatapp_messages_stored_total",
    "chatapp_send_ack_seconds",
    "chatapp_outbox_overflows_total",
    "chatapp_layer_errors_total",
    "chatapp_http_requests_total",
    "chatapp_http_request_seconds",
}


def exported_series() -> dict[str, str]:
    """Each series name the server can export, mapped to its family's type."""
    series: dict[str, str] = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("chatapp_"):
            continue
        if family.type == "counter":
            series[family.name + "_total"] = family.type
        elif family.type == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                series[family.name + suffix] = family.type
        else:
            series[family.name] = family.type
    return series


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]


def test_every_query_names_series_the_server_exports() -> None:
    exported = exported_series()
    exprs = expressions()
    assert len(exprs) > 15
    for expr in exprs:
        names = re.findall(r"\bchatapp_[a-z_]+\b", expr)
        assert names, expr
        for name in names:
            assert name in exported, f"{name} in {expr!r}"
            if exported[name] == "counter":
                assert "rate(" in expr, f"a counter graphed without rate(): {expr!r}"


def test_every_family_of_the_protocol_has_a_panel() -> None:
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for expr in expressions()
        for name in re.findall(r"\bchatapp_[a-z_]+\b", expr)
    }
    assert used >= PROTOCOL_FAMILIES, PROTOCOL_FAMILIES - used


def test_panels_have_ids_titles_and_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["datasource"]["uid"] == "${datasource}"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "instance"}
