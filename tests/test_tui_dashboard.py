"""The run dashboard (`$`) and the model scorecard screen, against real simulated runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from core.session import Session
from core.store import Store
from tests.tui_support import sample_app, sim_settings, wait_until
from tui.app import DelegateApp
from tui.dashboard_model import Dashboard, dashboard
from tui.screens.dashboard import DashboardScreen
from tui.screens.run import RunScreen
from tui.screens.stats import StatsScreen
from tui.spend_timeline import SpendTimeline
from tui.view_model import fmt_cost

SIZE = (160, 48)
# Turns of about 2 s: the reported usage moves at least once a turn.
STREAMING = "load:agents=2,tps=400,seconds=6"


async def _live(tmp_path: Path, scenario: str, task: str = "build it") -> tuple[DelegateApp, Store]:
    settings = sim_settings(tmp_path, scenario=scenario)
    store = await Store.open(settings.db_path)
    session = Session(settings, interactive=True)
    session.bus.subscribe(store.append)
    app = DelegateApp(session=session, task=task, store=store, export_dir=settings.workspace)
    return app, store


async def _closed(app: DelegateApp, store: Store) -> None:
    await app.close_session()
    await store.close()


async def test_dashboard_values_equal_the_runs_sums_and_its_replay_draws_them(
    tmp_path: Path,
) -> None:
    """One real run (the slow part) for both: the live dashboard, then one over its replay."""
    app, store = await _live(tmp_path, "default", "Research competitors and write a report")
    try:
        async with app.run_test(size=SIZE) as pilot:
            session = app.session
            assert session is not None
            await wait_until(pilot, lambda: app.view.answered, timeout=60)
            await pilot.press("$")
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            await wait_until(pilot, lambda: screen.figures is not None)  # drawn once mounted
            await store.flush()
            summary = await store.run_summary(session.run_id)
            figures = screen.figures
            assert figures is not None
            # every agent of the run, the CEO first, with the store's own figures
            recorded = {a["id"]: a for a in summary["agents"]}
            assert figures.agents[0].label == "ceo"
            assert {f.label for f in figures.agents} == set(recorded)
            assert len(recorded) >= 3 and len(figures.groups) >= 3  # the CEO and two roles
            for f in figures.agents:
                a = recorded[f.label]
                assert (f.tokens.input, f.tokens.output) == (a["input_tokens"], a["output_tokens"])
                assert f.cost == pytest.approx(a["cost_usd"])
                assert (f.role, f.model) == (a["role"], a["model"])
            # tokens per second: the panes' own figure, and for a group its agents' sums
            views = {a.agent_id: a for a in [app.view.ceo, *app.view.agents.values()] if a}
            for f in figures.agents:
                pane = views[f.label].avg_tokens_per_s
                assert f.tokens_per_s == (None if pane is None else pytest.approx(pane))
            # the run: the sum of its agents, as the session and the store count it
            run = figures.run
            assert run.cost == pytest.approx(summary["cost_usd"])
            assert run.cost == pytest.approx(session.total_cost(), abs=1e-6)  # it rounds
            assert run.tokens.output == summary["usage"]["output_tokens"]
            assert run.tokens.input == summary["usage"]["input_tokens"]
            # per role and model: the agents' sums, and together the run's
            for g in figures.groups:
                members = [f for f in figures.agents if (f.role, f.model) == (g.role, g.model)]
                assert g.agents == len(members)
                assert g.tokens.output == sum(f.tokens.output for f in members)
                assert g.cost == pytest.approx(sum(f.cost or 0.0 for f in members))
                assert g.streamed_tokens == sum(f.streamed_tokens for f in members)
                assert g.streamed_s == pytest.approx(sum(f.streamed_s for f in members))
            assert sum(g.cost or 0.0 for g in figures.groups) == pytest.approx(run.cost)
            # spend over time adds up to what was spent
            assert sum(run.spend) == pytest.approx(run.cost)
            for f in figures.agents:
                assert sum(f.spend) == pytest.approx(f.cost)
            # and the screen shows those figures
            head = str(screen.head.render())
            assert fmt_cost(run.cost) in head and "tok/s" in head
            assert screen.spend.data and max(screen.spend.data) > 0
            # m: the model scorecard, this run included
            await pilot.press("m")
            stats = app.screen
            assert isinstance(stats, StatsScreen)
            await wait_until(pilot, lambda: stats.rows is not None)
            assert stats.rows is not None
            assert {(r.role, r.model) for r in stats.rows} == {
                (g.role, g.model) for g in figures.groups
            }
            assert sum(r.attempts for r in stats.rows) == sum(a.attempt for a in views.values())
            assert "1 run" in str(stats.query_one("#stats-head", Static).render())
            await pilot.press("escape")
            assert app.screen is screen
            await pilot.press("escape")
            assert isinstance(app.screen, RunScreen)
            await app.close_session()
        await store.flush()
        run_id = app.view.run_id
        summary = await store.run_summary(run_id)
        events = await store.events(run_id)
    finally:
        await _closed(app, store)  # closes the session once
    replay = DelegateApp(replay_events=events, replay_speed=1000.0, export_dir=tmp_path)
    async with replay.run_test(size=SIZE) as pilot:
        await pilot.press("G")  # to the end of the replay
        await wait_until(pilot, lambda: replay.view.status != "running")
        await pilot.press("$")
        screen = replay.screen
        assert isinstance(screen, DashboardScreen)
        await wait_until(pilot, lambda: screen.figures is not None)
        figures = screen.figures
        assert figures is not None
        assert figures.run.cost == pytest.approx(summary["cost_usd"])
        assert figures.run.tokens.output == summary["usage"]["output_tokens"]
        assert sum(figures.run.spend) == pytest.approx(summary["cost_usd"])  # from stored times
        by_id = {a["id"]: a for a in summary["agents"]}
        for f in figures.agents:
            assert f.cost == pytest.approx(by_id[f.label]["cost_usd"])


async def test_dashboard_moves_while_agents_stream(tmp_path: Path) -> None:
    app, store = await _live(tmp_path, STREAMING)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: sum(a.state == "running" for a in app.view.agents.values()) >= 2
            )
            await pilot.press("$")
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            first = screen.figures
            assert first is not None
            seen = first.run.tokens.output
            # the screen refreshes itself from the live view while it is open: the output
            # grows, and a rate shows once a reply has streamed long enough to tell
            snapshots: list[Dashboard] = []

            def moved() -> bool:
                f = screen.figures
                if f is None or f.run.tokens.output <= seen or not f.run.recent_tokens_per_s:
                    return False
                snapshots.append(f)
                return True

            await wait_until(pilot, moved, timeout=20)
            moving = snapshots[-1]
            assert any(f.state == "running" and f.recent_tokens_per_s for f in moving.agents)
            assert any(g.tokens_per_s for g in moving.groups)
            await pilot.press("dollar_sign")  # $ again closes it
            assert isinstance(app.screen, RunScreen)
    finally:
        await _closed(app, store)


async def test_dashboard_key_is_remappable(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    app.keymap = {"app.dashboard": "D"}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("dollar_sign")  # the old key: nothing
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)
        await pilot.press("D")
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await wait_until(pilot, lambda: dash.figures is not None)
        figures = dash.figures
        assert figures is not None and figures.run.cost == app.view.totals().tokens.cost
        await pilot.press("D")  # the remapped key closes it too
        assert isinstance(app.screen, RunScreen)


async def test_dashboard_over_a_sample_run_at_80x24(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("$")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_until(pilot, lambda: screen.figures is not None)
        assert screen.figures is not None
        expected = dashboard(app.view, screen.clock(), 60)
        assert screen.figures.run.tokens == expected.run.tokens
        assert [f.label for f in screen.figures.agents] == [f.label for f in expected.agents]
        await pilot.press("q")  # q closes the dashboard, it does not quit
        assert isinstance(app.screen, RunScreen)


def test_spend_timeline_buckets_add_up() -> None:
    t = SpendTimeline()
    t.observe(10.0, "a", 0.1, 10)
    t.observe(12.0, "a", 0.3, 30)
    t.observe(12.0, "a", 0.35, 35)  # same stamp: replaces the point
    t.observe(15.0, "b", 0.5, 5)
    t.observe(16.0, "b", None, 9)  # unknown cost keeps the last known one
    series = t.series(10.0, 20.0, 5)
    assert len(series) == 5 and sum(series) == pytest.approx(0.85)
    assert series == pytest.approx([0.35, 0, 0.5, 0, 0])  # a point on an edge: the slice before
    assert t.series(10.0, 20.0, 5, ["b"]) == pytest.approx([0, 0, 0.5, 0, 0])
