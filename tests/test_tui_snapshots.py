"""Snapshots of the key screens, from the fixed synthetic run (tui.sample_run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui_support import sample_app
from tui.app import DelegateApp
from tui.sample_run import RUN_ID, T0, TASK
from tui.screens.history import HistoryScreen
from tui.screens.steer import SteerScreen
from tui.screens.transcript import TranscriptScreen
from tui.widgets.agent_board import AgentBoard

SIZE = (160, 48)


async def _settle(pilot: Any) -> None:
    app: DelegateApp = pilot.app
    await pilot.pause()
    screen = app.main_screen
    assert screen is not None
    await screen.flush()
    await pilot.pause()


def _no_blink(app: DelegateApp) -> None:
    for widget in app.screen.query("Input"):
        widget.cursor_blink = False  # type: ignore[attr-defined]


def test_main_screen_mid_run(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        pilot.app.main_screen.query_one(AgentBoard).focus_agent("research-1")
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=SIZE)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=["80x24", "100x30"])
def test_main_screen_small(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """Below 120 columns: the board tab, two rows of panes, the totals line, a fitted footer
    (160x48 is test_main_screen_mid_run)."""

    async def before(pilot: Any) -> None:
        await _settle(pilot)
        pilot.app.main_screen.query_one(AgentBoard).focus_agent("research-1")
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=size)


def test_chat_tab_80x24(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+t")
        _no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=(80, 24))


def test_steer_modal(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        app = pilot.app
        recent = app.view.agents["research-1"].tail_lines(12)
        task = "Survey three coffee subscription competitors"
        app.push_screen(SteerScreen("research-1", task, recent=recent))
        await pilot.pause()
        await pilot.press("I")  # one real key; the rest inserted, as typing it is slow
        app.screen.query_one("#steer-input").insert_text_at_cursor("nclude prices in euros")
        _no_blink(app)
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=SIZE)


def test_approval_inbox(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        pilot.app.main_screen.query_one(AgentBoard).focus_agent("coding-1")
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=(160, 30))


def test_transcript_screen(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        app = pilot.app
        app.push_screen(TranscriptScreen(app.view, "research-1", tmp_path))
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=SIZE)


def history_rows() -> list[Any]:
    """Four fixed runs for the history screen."""
    from core.store_schema import RunRow

    return [
        RunRow(
            run_id=RUN_ID if i == 0 else f"20260228-1{i}0000-beef",
            task=TASK if i == 0 else f"Earlier task number {i}",
            status=("running", "done", "failed", "cancelled")[i % 4],
            created_at=T0 - i * 86_400,
            finished_at=None,
            workspace="/home/op/coffee",
            ceo_model="claude-opus-5-5",
            simulated=True,
            max_concurrent=5,
            result=None,
            cost_usd=0.0712 * (i + 1),
            input_tokens=1000,
            output_tokens=100,
            cache_read_tokens=0,
            cache_write_tokens=0,
            agents=6 - i,
            pid=None,
            resumed_from=None,
        )
        for i in range(4)
    ]


def test_history_screen(snap_compare: Any, tmp_path: Path) -> None:
    rows = history_rows()

    async def before(pilot: Any) -> None:
        await _settle(pilot)
        pilot.app.push_screen(HistoryScreen(None, rows))
        await pilot.pause()

    assert snap_compare(sample_app(tmp_path), run_before=before, terminal_size=(160, 20))
