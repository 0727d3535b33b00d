"""Toasts never cover the CEO chat: its last lines or its message box, at 80x24 as wide."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._toast import Toast

from core.events import ApprovalRequested
from tests.tui_support import sample_app, wait_until
from tui.attention import alert_for
from tui.screens.run import RunScreen
from tui.widgets.view_tabs import CHAT

SIZES = [(80, 24), (100, 30), (160, 48)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_an_approval_toast_leaves_the_chat_in_view(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await screen.flush()
        if screen.narrow:
            screen.action_switch_view()  # the chat tab, where the operator reads and types
        await pilot.pause()
        assert screen.showing == CHAT or not screen.narrow
        event = ApprovalRequested(run_id="r", agent_id="coding-1", request_id="q",
                                  tool="run_command", command='python3 -c "import convert"',
                                  cwd="/w")  # fmt: skip
        alert = alert_for(event)
        assert alert is not None
        app._toast(alert)  # as the app raises it when the request comes
        await wait_until(pilot, lambda: len(screen.query(Toast)) == 1)
        await pilot.pause()  # laid out
        _beside_the_chat(screen, header_only=screen.narrow)
        app.notify("coding-1: approved: python3 -c 'import convert'", timeout=3)  # right after
        shown = 1 if screen.narrow else 2  # narrow: the newest only, else they stack down
        await wait_until(
            pilot, lambda: [t._notification.message[:8] for t in screen.query(Toast)]
            == ["coding-1"] * shown if screen.narrow else len(screen.query(Toast)) == 2
        )  # fmt: skip
        await pilot.pause()
        _beside_the_chat(screen, header_only=screen.narrow)


def _beside_the_chat(screen: RunScreen, *, header_only: bool) -> None:
    """No toast over the chat's lines or its message box; narrow, over the header only."""
    chat = screen.chat
    assert chat.region.area > 0
    toasts = list(screen.query(Toast))
    assert toasts
    for toast in toasts:
        region = toast.region
        assert region.area > 0
        assert not region.overlaps(chat.input.region), region
        assert not region.overlaps(chat.log_view.region), region
        if header_only:
            assert region.bottom <= screen.header.region.bottom + 1, region  # + the tab row
