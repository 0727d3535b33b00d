"""Drive the real app through live simulated runs and write SVG screenshots into screenshots/.

    python scripts/screenshots.py [--size WxH] [--out DIR]

Two runs share a temp workspace and a temp run database. First a run of
scripts/screenshot_approval.toml whose coding agent runs a command this run's allow list
leaves out, so it waits in the approval inbox (approvals.svg). Then the demo task on the
default scenario: mid-run with a steer receipt (main), the steer modal (steer), attempt 2
of the retried agent (retry), the answered run (final), its dashboard (dashboard) and the
model scorecard (scorecard), a transcript, the help screen, and
the history with both runs. Last, thirty agents on the load scenario: the board as a
window over them (board). Timing varies a little from run to run, so each step waits on
the session's events, with a timeout that names what it waited for. The pictures show
the temp workspace as ~/coffee-subscription.

Every picture is taken at --size (160x48 by default). At the default size the mid-run
moment is also shot at the smaller sizes the app supports (the terminal resized under
the live run): main-100x30, main-80x24 and the chat tab at 80x24 (chat-80x24). With
`--size 80x24 --out DIR` the whole set is made at 80x24 instead.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import DEFAULT_ALLOW, Settings  # noqa: E402
from core.events import (  # noqa: E402
    AgentSpawned,
    ApprovalRequested,
    Event,
    Notice,
    SteerDelivered,
    ToolCallStarted,
)
from core.session import Session  # noqa: E402
from core.store import Store  # noqa: E402
from tui.app import DelegateApp  # noqa: E402
from tui.launch import DEMO_TASK  # noqa: E402
from tui.screens.dashboard import DashboardScreen  # noqa: E402
from tui.screens.help import HelpScreen  # noqa: E402
from tui.screens.history import HistoryScreen  # noqa: E402
from tui.screens.run import RunScreen  # noqa: E402
from tui.screens.stats import StatsScreen  # noqa: E402
from tui.screens.steer import SteerScreen  # noqa: E402
from tui.screens.transcript import TranscriptScreen  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (160, 48)
SMALL_SIZES = ((100, 30), (80, 24))  # also shot mid-run when the set is made at SIZE
WAIT_S = 60.0
SHOWN_WORKSPACE = "~/coffee-subscription"
APPROVAL_SCENARIO = ROOT / "scripts" / "screenshot_approval.toml"
APPROVAL_TASK = "Add a plan table and an FAQ to the coffee subscription site"
# The approval run allows only the read-only commands, so `python3 -m py_compile` asks.
READ_ONLY_ALLOW = tuple(c for c in DEFAULT_ALLOW if not c.startswith(("python", "pytest")))
BOARD_SCENARIO = "load:agents=30,tps=15,seconds=120"
STEER_TEXT = "Put the price of each plan above the fold"
BRIEF = """# Coffee subscription

Beans from three small roasters, delivered every two or four weeks.
Plans: Taster ($12/mo), Daily ($24/mo), Office ($60/mo). Pause or cancel any time.
Competitors to look at: Beanbox, Trade, Atlas Coffee Club.
"""
LEAKS = ("/tmp/", "/root", "/home/")


class ShotError(Exception):
    """A state the script waits for did not come, or a picture shows a machine path."""


class Waiter:
    """Every event of one session, and waits for the first that matches (with a timeout)."""

    def __init__(self, session: Session) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        session.bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def event(
        self, what: str, match: Callable[[Event], bool], within_s: float = WAIT_S
    ) -> Event:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        seen = 0
        while True:
            for event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise ShotError(f"timed out after {within_s:g}s waiting for {what}") from None


def _shown(value: Any, real: str) -> Any:
    """`value` with the real workspace path replaced by SHOWN_WORKSPACE (str, dict, list)."""
    if isinstance(value, str):
        return value.replace(real, SHOWN_WORKSPACE)
    if isinstance(value, dict | list):
        text = json.dumps(value)
        escaped = json.dumps(real)[1:-1]
        if escaped in text:
            return json.loads(text.replace(escaped, json.dumps(SHOWN_WORKSPACE)[1:-1]))
    return value


def show_workspace_neutrally(app: DelegateApp, workspace: Path) -> None:
    """Feed the app's view events whose workspace path reads ~/coffee-subscription."""
    real = str(workspace)
    apply = app.view.apply

    def apply_shown(event: Event) -> None:
        changes = {}
        for f in dataclasses.fields(event):
            if not f.init:
                continue
            value = getattr(event, f.name)
            shown = _shown(value, real)
            if shown is not value and shown != value:
                changes[f.name] = shown
        apply(dataclasses.replace(event, **changes) if changes else event)

    app.view.apply = apply_shown  # type: ignore[method-assign]


def live(settings: Settings, task: str, store: Store) -> tuple[DelegateApp, Waiter]:
    session = Session(settings, interactive=True)
    session.bus.subscribe(store.append)
    waiter = Waiter(session)
    app = DelegateApp(session=session, task=task, store=store, export_dir=settings.workspace)
    show_workspace_neutrally(app, settings.workspace)
    return app, waiter


def main_screen(app: DelegateApp) -> RunScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


async def settle(pilot: Any) -> None:
    """Let the current screen handle what is queued (not a wait for the CPU to go idle,
    which a streaming run may not do for a second)."""
    await pilot.pause(0.02)


async def select(app: DelegateApp, pilot: Any, agent_id: str) -> None:
    screen = main_screen(app)
    await screen.flush()
    await settle(pilot)
    screen.select(agent_id)
    await settle(pilot)


async def shoot(app: DelegateApp, pilot: Any, name: str) -> None:
    """Flush the board, hide toasts, stop the cursor blink, save OUT/name.svg, check it."""
    await main_screen(app).flush()
    app.clear_notifications()
    for box in app.screen.query("Input"):
        box.cursor_blink = False  # type: ignore[attr-defined]
    await settle(pilot)
    app.save_screenshot(f"{name}.svg", str(OUT))
    text = (OUT / f"{name}.svg").read_text(encoding="utf-8")
    leaked = [leak for leak in LEAKS if leak in text]
    if leaked:
        raise ShotError(f"{OUT.name}/{name}.svg shows a machine path ({', '.join(leaked)})")
    print(f"wrote {OUT.name}/{name}.svg")


async def shoot_small_sizes(app: DelegateApp, pilot: Any, agent_id: str) -> None:
    """The same moment at each smaller size (board tab, then the chat tab at the smallest),
    and back to SIZE."""
    if SIZE != (160, 48):
        return  # a set made at another size has no extras
    for width, height in SMALL_SIZES:
        await pilot.resize_terminal(width, height)
        await select(app, pilot, agent_id)
        await shoot(app, pilot, f"main-{width}x{height}")
    await pilot.press("ctrl+t")
    await settle(pilot)
    width, height = SMALL_SIZES[-1]
    await shoot(app, pilot, f"chat-{width}x{height}")
    await pilot.press("ctrl+t")
    await pilot.resize_terminal(*SIZE)
    await select(app, pilot, agent_id)


async def screen_is(pilot: Any, kind: type, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not isinstance(pilot.app.screen, kind):
        if loop.time() > deadline:
            raise ShotError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def approvals_run(base: Settings, store: Store) -> None:
    settings = base.with_overrides(scenario=str(APPROVAL_SCENARIO), allow_commands=READ_ONLY_ALLOW)
    app, waiter = live(settings, APPROVAL_TASK, store)
    async with app.run_test(size=SIZE) as pilot:
        ask = await waiter.event(
            "a command waiting for approval", lambda e: isinstance(e, ApprovalRequested)
        )
        await select(app, pilot, ask.agent_id or "")
        await shoot(app, pilot, "approvals")
        await pilot.press("a")
        await waiter.event("the CEO's answer", _answered)
        await app.close_session()


def _answered(event: Event) -> bool:
    return isinstance(event, Notice) and "waiting for you" in event.text


async def demo_run(base: Settings, store: Store) -> None:
    app, waiter = live(base, DEMO_TASK, store)
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        steer = await waiter.event(
            "the CEO's steer to be delivered", lambda e: isinstance(e, SteerDelivered)
        )
        await select(app, pilot, steer.agent_id or "")
        await shoot(app, pilot, "main")
        await shoot_small_sizes(app, pilot, steer.agent_id or "")

        retried = await waiter.event(
            "the retry (attempt 2)", lambda e: isinstance(e, AgentSpawned) and e.attempt == 2
        )
        await waiter.event(
            "attempt 2 to call a tool",
            lambda e: (
                isinstance(e, ToolCallStarted)
                and e.agent_id == retried.agent_id
                and e.ts >= retried.ts
            ),
        )
        target = retried.agent_id or ""
        await select(app, pilot, target)
        await shoot(app, pilot, "retry")

        await pilot.press("s")
        await screen_is(pilot, SteerScreen, "the steer modal")
        app.screen.query_one("#steer-input").insert_text_at_cursor(STEER_TEXT)  # type: ignore[attr-defined]
        if app.view.agents[target].finished:
            raise ShotError(f"{target} finished before the steer modal was shot")
        await shoot(app, pilot, "steer")
        await pilot.press("escape")  # cancel: the scenario's own run goes on unchanged

        await waiter.event("the CEO's answer", _answered)
        first = app.view.board()[0].agent_id
        await select(app, pilot, first)
        await shoot(app, pilot, "final")

        await pilot.press("dollar_sign")
        await screen_is(pilot, DashboardScreen, "the run dashboard")
        await pilot.pause(0.6)  # the dashboard refreshes twice a second
        await shoot(app, pilot, "dashboard")
        await pilot.press("m")
        await screen_is(pilot, StatsScreen, "the model scorecard")
        await pilot.pause(0.3)
        await shoot(app, pilot, "scorecard")
        await pilot.press("escape")
        await screen_is(pilot, DashboardScreen, "the run dashboard")
        await pilot.press("escape")
        await screen_is(pilot, RunScreen, "the run screen")

        await select(app, pilot, retried.agent_id or "")
        await pilot.press("enter")
        await screen_is(pilot, TranscriptScreen, "the transcript")
        await pilot.pause(0.6)  # the transcript log fills on its 0.5 s refresh
        await shoot(app, pilot, "transcript")
        await pilot.press("escape")

        await pilot.press("question_mark")
        await screen_is(pilot, HelpScreen, "the help screen")
        await shoot(app, pilot, "help")
        await pilot.press("escape")
        await screen_is(pilot, RunScreen, "the run screen")

        await app.close_session()  # the CEO had answered: recorded as done
        await store.flush()
        await pilot.press("h")
        await screen_is(pilot, HistoryScreen, "the history screen")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while app.screen.query_one("DataTable").row_count < 2:  # type: ignore[attr-defined]
            if loop.time() > deadline:
                raise ShotError("timed out waiting for both runs in the history")
            await pilot.pause(0.05)
        await shoot(app, pilot, "history")
        assert screen is app.main_screen


async def board_run(base: Settings, store: Store) -> None:
    """Thirty agents streaming at once: the board shows a window of them (board.svg)."""
    settings = base.with_overrides(scenario=BOARD_SCENARIO, max_concurrent=30)
    app, waiter = live(settings, "Thirty parallel research tasks", store)
    async with app.run_test(size=SIZE) as pilot:
        await waiter.event("30 agents running", lambda e: _running(app) >= 30)
        board = main_screen(app).board
        await waiter.event("the agents to stream some text", lambda e: _streamed(app, 300))
        await select(app, pilot, board.order[12])
        await shoot(app, pilot, "board")
        await app.close_session()


def _running(app: DelegateApp) -> int:
    return sum(a.state == "running" for a in app.view.agents.values())


def _streamed(app: DelegateApp, chars: int) -> bool:
    return all(sum(map(len, a.tail_lines(11))) >= chars for a in app.view.board())


def make_workspaces(tmp: str) -> list[Path]:
    """One fresh workspace per run, so the demo's agents do not read the first run's files."""
    workspaces = [Path(tmp, name, "coffee-subscription").resolve() for name in "abc"]
    for workspace in workspaces:
        workspace.mkdir(parents=True)
        (workspace / "README.md").write_text(BRIEF, encoding="utf-8")
    return workspaces


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT: {text!r}") from None
    if width < 80 or height < 24:
        raise argparse.ArgumentTypeError(f"{text}: the app supports 80x24 and up")
    return width, height


async def main() -> None:
    global SIZE, OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=parse_size, default=SIZE, help="WxH (default 160x48)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default screenshots/)")
    args = parser.parse_args()
    SIZE, OUT = args.size, args.out.resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="delegate-shots-") as tmp:
        workspaces = make_workspaces(tmp)
        settings = Settings(
            simulate=True,
            scenario="default",
            sim_tokens_per_s=300.0,
            workspace=workspaces[0],
            db_path=Path(tmp, "runs.db"),
            permission_mode="ask",
        )
        store = await Store.open(Path(tmp, "runs.db"))
        try:
            await approvals_run(settings, store)
            await demo_run(settings.with_overrides(workspace=workspaces[1]), store)
            await board_run(settings.with_overrides(workspace=workspaces[2]), store)
        finally:
            await store.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except ShotError as exc:
        sys.exit(f"screenshots: {exc}")
