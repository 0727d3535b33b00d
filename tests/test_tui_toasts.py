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


async def test_an_answered_approval_takes_its_toast_away(tmp_path: Path) -> None:
    """The toast says `a approve · d deny`: once the request is answered (here or by the
    policy), it goes instead of staying its 8 s."""
    from core.events import ApprovalResolved
    from tests.tui_support import QuietSession
    from tui.app import DelegateApp

    session = QuietSession()
    app = DelegateApp(session=session, task="t", autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await pilot.pause()
        for rid in ("q1", "q2"):
            session.bus.publish(
                ApprovalRequested(run_id="quiet", agent_id="coding-1", request_id=rid,
                                  tool="run_command", command=f"make {rid}", cwd="/w")
            )  # fmt: skip
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 2)
        session.bus.publish(ApprovalResolved(run_id="quiet", request_id="q1", decision="once"))
        # Well before the toast's own 8 s are up.
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 1, timeout=5)
        [left] = [n.message for n in app._notifications]
        assert "make q2" in left  # the other request's toast stays


async def test_narrow_keeps_an_error_toast_under_the_newest(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        app.notify("the disk is full", title="Not recorded", severity="error", timeout=3600)
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 1)
        app.notify("one", timeout=3)
        app.notify("two", timeout=3)  # the same step: still one at a time
        await wait_until(
            pilot, lambda: [n.message for n in app._notifications] == ["the disk is full", "two"]
        )
