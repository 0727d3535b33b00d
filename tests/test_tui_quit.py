"""Focus and quitting: one quit path (q, ctrl+q, the palette's Quit) that asks while
agents run; agents the operator stops end `stopped` (counts, history, replay, show);
a replay over the live run goes back with escape; resume starts on the board; hints in
the message box name no key it would type; the exit message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList
from textual.widgets._footer import FooterKey

from core.events import AgentSpawned, TurnEnded, TurnStarted
from core.store import Store
from tests.tui_support import QuietSession, live_app, sim_settings, wait_until
from tui.app import DelegateApp
from tui.cli import main
from tui.launch import say_exit
from tui.sample_run import sample_events
from tui.screens.confirm import ConfirmScreen
from tui.screens.run import RunScreen
from tui.view_model import RunView
from tui.widgets.run_header import RunHeader
from tui.widgets.steady_footer import typed_character

SIZE = (160, 48)
SLOW = "load:agents=2,tps=2,seconds=600"  # two agents that keep running


def _running(app: DelegateApp, n: int = 2) -> bool:
    return sum(1 for a in app.view.agents.values() if a.state == "running") >= n


async def test_every_quit_asks_while_agents_run_and_they_end_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sim_settings(tmp_path, scenario=SLOW)
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, "load", store=store)
    session.bus.subscribe(store.append)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _running(app))
        run_screen = app.screen
        for key in ("q", "ctrl+q"):
            await pilot.press(key)
            assert isinstance(app.screen, ConfirmScreen), key
            await pilot.press("n")
            assert app.screen is run_screen and not session.finished
        # The palette has one Quit (Textual's own, which quit at once, is replaced).
        titles = [c.title for c in app.get_system_commands(run_screen)]
        assert [t for t in titles if "quit" in t.lower()] == ["Quit"]
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Quit")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        options = palette.query_one("CommandList", OptionList)
        await wait_until(pilot, lambda: options.option_count > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "2 agents not finished yet" in question and "Stop them and quit?" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: session.finished)
    # A clean stop, not a failure: agents and run `stopped`, counted apart.
    assert session.status == "stopped"
    assert [r.state for r in session.agents()] == ["stopped", "stopped"]
    totals = app.view.totals()
    assert (totals.stopped, totals.failed) == (2, 0)
    say_exit(session)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"delegate: run {session.run_id} stopped (2 agents stopped)",
        f"resume it with: delegate resume {session.run_id}",
    ]
    await store.flush()
    [row] = await store.list_runs(limit=5)  # history
    assert row.status == "stopped"
    assert {a.state for a in await store.agents(row.run_id) if a.agent_id != "ceo"} == {"stopped"}
    events = await store.events(row.run_id)
    await store.close()

    view = RunView()  # what a replay shows
    for event in events:
        view.apply(event)
    assert view.status == "stopped"
    assert {a.state for a in view.agents.values()} == {"stopped"}
    header = RunHeader()
    async with DelegateApp(replay_events=events).run_test(size=SIZE) as pilot:
        await pilot.app.screen.mount(header)
        header.show(view)
        text = str(header.render())
        assert "2 stopped" in text and "0 failed" in text

    fast = ["--db", str(settings.db_path)]
    assert await asyncio.to_thread(main, ["show", row.run_id, *fast]) == 0  # `delegate show`
    shown = capsys.readouterr().out
    assert "stopped" in shown and "killed" not in shown


async def test_quit_without_agents_does_not_ask(tmp_path: Path) -> None:
    app = DelegateApp(session=QuietSession(), task="t", autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    pushed: list[object] = []
    push = app.push_screen

    def recorded(screen: object, *args: Any, **kwargs: Any) -> Any:
        pushed.append(screen)
        return push(screen, *args, **kwargs)  # type: ignore[arg-type]

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen = recorded  # type: ignore[method-assign]
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert not any(isinstance(s, ConfirmScreen) for s in pushed)  # nothing runs: no question
    assert app.return_code == 0


async def test_quit_asks_while_the_ceo_works_alone(tmp_path: Path) -> None:
    """No sub-agent runs, but the CEO is mid-turn (its final check, say): q asks too."""
    session = QuietSession()
    app = DelegateApp(session=session, task="t", autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        run = session.run_id
        ceo = AgentSpawned(run_id=run, agent_id="ceo", role="ceo", model="m", task="t")
        session.bus.publish(ceo)
        session.bus.publish(TurnStarted(run_id=run, agent_id="ceo", turn=1, model="m"))
        await wait_until(pilot, lambda: app.view.ceo_busy)
        await pilot.press("escape", "q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "The CEO is still working" in question and "Stop it and quit?" in question
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.is_running and not session.finished
        session.bus.publish(TurnEnded(run_id=run, agent_id="ceo", turn=1, stop_reason="end_turn"))
        await wait_until(pilot, lambda: not app.view.ceo_busy)
        await pilot.press("q")  # the CEO is done: nothing to ask
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_resume_starts_on_the_board_and_a_new_run_in_the_box(tmp_path: Path) -> None:
    resumed = DelegateApp(
        session=QuietSession(),  # type: ignore[arg-type]
        prior_events=sample_events(),
        autostart=False,
        export_dir=tmp_path,
    )
    async with resumed.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert resumed.focused is not None and not isinstance(resumed.focused, Input)
        await pilot.press("i")  # a key, not a letter typed into the box
        assert isinstance(resumed.focused, Input) and resumed.focused.value == ""
    fresh = DelegateApp(session=QuietSession(), autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with fresh.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(fresh.focused, Input)  # no task yet: type it


async def test_hints_name_no_key_the_focused_box_would_type(tmp_path: Path) -> None:
    app = DelegateApp(
        session=QuietSession(),  # type: ignore[arg-type]
        prior_events=sample_events(),
        autostart=False,
        export_dir=tmp_path,
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown_on_board = {k.key for k in app.screen.query(FooterKey)}
        assert "q" in shown_on_board  # on the board, q quits and says so
        await pilot.press("i")
        box = app.focused
        assert isinstance(box, Input)
        await pilot.pause()
        shown = [(k.key, k.key_display) for k in app.screen.query(FooterKey)]
        typed = [
            label
            for key, label in shown
            if box.check_consume_key(key, typed_character(key))  # `plus` types "+"
            or (len(label) == 1 and box.check_consume_key(label, label))  # f1 shown as "?"
        ]
        assert shown and not typed, typed
        assert ("f1", "f1") in shown  # help is still named, by the key that works here
        assert isinstance(app.screen, RunScreen)
        assert "esc then q" in app.screen.answered_placeholder()  # the answered hint says how
        await pilot.press("q")
        assert box.value == "q" and isinstance(app.screen, RunScreen)


async def test_replay_over_the_live_run_goes_back_with_escape(tmp_path: Path) -> None:
    from tui.screens.run import OVER_LIVE_HINT

    app = DelegateApp(session=QuietSession(), task="t", autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        live = app.screen
        replay = RunScreen(RunView(), over_live=True)
        await app.push_screen(replay)
        await pilot.pause()
        hint = replay.over_live_hint()
        assert hint == OVER_LIVE_HINT.format(back="esc")
        assert replay.chat.input.placeholder == hint
        assert any(hint in n.message for n in app._notifications)
        assert "escape" in {k.key for k in replay.query(FooterKey)}
        await pilot.press("escape")
        assert app.screen is live
        await pilot.press("escape")  # on the live run escape stays the board's key
        assert app.screen is live
