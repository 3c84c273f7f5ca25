"""The packages of ``chatapp`` import each other one way only.

The graph is read from the source (every ``import``, at module level or inside
a function), so an import hidden in a function to dodge a cycle still counts.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import chatapp

ROOT = Path(chatapp.__file__).parent

# What the transport may use: it moves encoded frames and knows no domain.
TRANSPORT = "realtime"
TRANSPORT_MAY_IMPORT = {"core", "wire"}


def package_imports() -> dict[str, set[str]]:
    """For each package (or top-level module) of chatapp, the others it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        package = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        graph[package]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                if node.module == "chatapp":  # from chatapp import wire
                    modules += [f"chatapp.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "chatapp" and len(parts) > 1 and parts[1] != package:
                    graph[package].add(parts[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            walk(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    return found


def test_the_reader_sees_imports_inside_functions() -> None:
    graph = package_imports()
    # cli imports bench inside a function (a lazy import is an import all the same).
    assert "bench" in graph["cli"]
    assert {"accounts", "chat", "realtime"} <= graph["friends"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_packages_import_each_other_one_way() -> None:
    assert cycles(package_imports()) == []


def test_the_transport_imports_no_domain_package() -> None:
    assert package_imports()[TRANSPORT] <= TRANSPORT_MAY_IMPORT
