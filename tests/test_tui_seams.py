"""tui/ drives the engine through the Session's public methods and reads the run from its
events: no private attribute of another object, and not the Session's Supervisor."""

from __future__ import annotations

import ast
from pathlib import Path

import tui
from tests.test_temporal_seams import private_uses

TUI = Path(tui.__file__).parent
# Not the engine's: `os._exit` is the standard library's documented call
# (tui/process_exit.py).
ALLOWED = {"os._exit"}


def _own_classes(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, ast.ClassDef)}


def seam_breaks(source: str) -> list[str]:
    """Private uses of other objects (a module's own class may name its own methods,
    as a dispatch table does), and any reach into the Session's Supervisor."""
    tree = ast.parse(source)
    own = _own_classes(tree)
    found = [
        use
        for use in private_uses(source)
        if use.split(" ")[0] not in ALLOWED and use.split(".")[0] not in own
    ]
    found += [
        f"{ast.unparse(node)} (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "supervisor"
    ]
    return found


def test_the_check_sees_a_private_use_and_the_supervisor() -> None:
    source = (
        "class View:\n    def _a(self): ...\nHANDLERS = [View._a]\n"
        "os._exit(0)\ngroup._tasks\nsession.supervisor.records\n"
    )
    assert seam_breaks(source) == ["group._tasks (line 5)", "session.supervisor (line 6)"]


def test_tui_uses_only_public_names_of_the_engine() -> None:
    found = {
        str(path.relative_to(TUI)): uses
        for path in sorted(TUI.rglob("*.py"))
        if (uses := seam_breaks(path.read_text(encoding="utf-8")))
    }
    assert found == {}
