"""Focused, approval, failed and stalled panes differ by more than colour: a mark in the
title and a border style, read from the drawn screen with its colours ignored."""

from __future__ import annotations

from pathlib import Path

from core.events import AgentStalled
from tests.contrast_support import SIZE, all_states_app, screen_strips
from tui.sample_run import RUN_ID
from tui.view_model import AgentView
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import AgentPane, pane_title


def _top_rows(app: object) -> dict[str, str]:
    """Each pane's top border row as plain text: the border glyphs and the title."""
    strips = screen_strips(app)  # type: ignore[arg-type]
    rows: dict[str, str] = {}
    for pane in app.screen.query(AgentPane):  # type: ignore[attr-defined]
        if pane.agent_id:
            r = pane.region
            rows[pane.agent_id] = strips[r.y].crop(r.x, r.right).text
    return rows


async def test_each_state_has_its_mark_and_border(tmp_path: Path) -> None:
    app = all_states_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.main_screen.flush()
        board = app.main_screen.query_one(AgentBoard)
        board.focus_agent("writer-1")  # a done pane: every pane below is unfocused
        await pilot.pause()
        rows = _top_rows(app)
        stalled, approval = rows["research-1"], rows["coding-1"]
        assert stalled.startswith("╭") and "⚠ stalled · research · research-1" in stalled
        assert approval.startswith("┏") and "╍" in approval  # dashed
        assert "◷ approval · coding · coding-1" in approval
        assert rows["data-1"].startswith("╭") and "✗ failed · data · data-1" in rows["data-1"]
        assert "✗ killed" in rows["writer-2"] and "✗ timed out" in rows["data-2"]
        assert "◌ coding · coding-2" in rows["coding-2"]
        focused = rows["writer-1"]
        assert focused.startswith("╔") and "═" in focused and "╍" not in focused  # double
        assert "✓ writer · writer-1" in focused

        # With colour gone, the four looks (corner, border line, mark) all differ.
        looks = {
            (row[0], row[1], mark)
            for row, mark in (
                (focused, "✓"),
                (approval, "◷"),
                (rows["data-1"], "✗"),
                (stalled, "⚠"),
            )
        }
        assert len(looks) == 4

        # Focus moves to the approval pane: double border, the approval mark stays.
        board.focus_agent("coding-1")
        await pilot.pause()
        rows = _top_rows(app)
        assert rows["coding-1"].startswith("╔") and "═" in rows["coding-1"]
        assert "╍" not in rows["coding-1"] and "◷ approval" in rows["coding-1"]
        assert rows["writer-1"].startswith("╭")  # unfocused again: round

        # The stall clears: the running mark comes back, the border is plain again.
        app.view.apply(
            AgentStalled(run_id=RUN_ID, ts=0.0, agent_id="research-1", stalled=False, idle_s=0.0)
        )
        await app.main_screen.flush()
        await pilot.pause()
        pane = next(p for p in app.screen.query(AgentPane) if p.agent_id == "research-1")
        assert not pane.has_class("-stalled")
        assert "● research · research-1" in _top_rows(app)["research-1"]


def test_every_end_state_has_a_mark_in_the_title() -> None:
    """A clean stop by the operator is not marked as a failure; the failures are ✗."""
    marks = {}
    for state in ("done", "failed", "killed", "timed_out", "interrupted", "stopped"):
        agent = AgentView(agent_id="coding-1", role="coding", model="m", task="t", state=state)
        assert agent.finished, state
        marks[state] = pane_title(agent).removesuffix(" coding · coding-1")
    assert marks["stopped"] == "■ stopped ·" and marks["done"] == "✓"
    assert all(marks[s].startswith("✗") for s in ("failed", "killed", "timed_out"))
    assert not marks["stopped"].startswith("✗") and not marks["interrupted"].startswith("✗")
