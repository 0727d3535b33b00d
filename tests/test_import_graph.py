"""Import contracts, checked on the source: no circles in core/ or tui/, the engine never
imports the UI, and the UI reaches the store only through the session's life."""

from __future__ import annotations

from tests.import_graph import cycles, graph, imported_names, importers_of, modules


def test_no_import_circles_in_core_or_tui() -> None:
    circles = cycles(graph())
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_core_never_imports_tui_or_textual() -> None:
    bad = [
        f"{name} imports {imported}"
        for name, path in modules().items()
        if name.startswith("core")
        for imported in imported_names(path, name)
        if imported.split(".")[0] in ("tui", "textual", "rich")
    ]
    assert not bad, "\n".join(bad)


def test_tui_reaches_runs_through_the_session_only() -> None:
    """The store and resume belong to `open_session` (core.session_life); the UI reads
    recorded runs through core.records."""
    assert importers_of(graph(), "tui", ("core.store", "core.resume")) == []


def test_the_walker_sees_circles_and_lazy_imports() -> None:
    """The checks above can fail: a circle through a lazy import is found."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    found = graph()
    # tui.cli imports tui.worker_cli inside a function: still an edge.
    assert "tui.worker_cli" in found["tui.cli"]
