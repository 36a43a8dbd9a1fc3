"""The import-cycle check: Tarjan over the module graph finds cycles of any length, and the
repository has none (function-level imports count)."""

from __future__ import annotations

from devtools.import_cycles import module_graph, strongly_connected


def test_cycles_of_any_length_are_found_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"e2"}, "e2": set(),
             "x": {"y"}, "y": {"x"}}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["x", "y"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_a_long_chain_does_not_overflow():
    chain = {f"m{i}": {f"m{i + 1}"} for i in range(5000)} | {"m5000": {"m0"}}
    assert len(strongly_connected(chain)[0]) == 5001


def test_function_level_imports_are_edges():
    graph = module_graph()
    assert "ivr.prompts_cli" in graph["hotline_link.cli"]  # imported inside build_parser


def test_the_repository_has_no_import_cycle():
    assert strongly_connected(module_graph()) == []
