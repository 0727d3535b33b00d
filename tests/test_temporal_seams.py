"""core/temporal uses other modules' objects through their public methods only: the
activities drive an Agent as the local runner does (model_turn, run_tool, carry_over),
not by reaching into its private state."""

from __future__ import annotations

import ast
from pathlib import Path

import core.temporal

TEMPORAL = Path(core.temporal.__file__).parent


def private_uses(source: str) -> list[str]:
    """`x._name` where x is not `self` or `cls` (dunders are the language's own)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def test_the_check_sees_a_private_call_on_another_object() -> None:
    assert private_uses("agent._model_turn()\nself._ok()\nx.__dict__\n") == [
        "agent._model_turn (line 1)"
    ]


def test_core_temporal_makes_no_private_call_on_other_objects() -> None:
    found = {
        path.name: uses
        for path in sorted(TEMPORAL.glob("*.py"))
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}
