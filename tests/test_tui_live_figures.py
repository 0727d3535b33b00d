"""Live figures on screen while an agent streams (the real app over the loopback SDK, the
worker's reply stalled mid-stream): the pane's and the header's output and cost move
before the turn ends, marked `~` until the API's usage replaces them; the pane's tail
shows the line still streaming; the open transcript streams; tokens per second show.
Plus the view model's rate and estimate arithmetic on events with fixed timestamps."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from textual.widgets import RichLog

from core.cost_meter import estimate_tokens
from core.events import (
    AgentSpawned,
    AgentStateChanged,
    Event,
    MessageAppended,
    TextDelta,
    TurnEnded,
    TurnStarted,
    UsageUpdated,
)
from tests.fakeapi import Stall, Text, ToolUse
from tests.faults.harness import fault_run
from tests.live_support import FINAL_OUT, LINES, MODEL, WORKER, plan_with, stalled_after
from tests.tui_support import wait_until
from tui.app import DelegateApp
from tui.screens.transcript import TranscriptScreen
from tui.view_model import RunView, Tokens, fmt_output, fmt_spend, tail_rows

SIZE = (160, 48)


def pane_text(app: DelegateApp, agent_id: str = WORKER) -> str:
    screen = app.main_screen
    assert screen is not None
    pane = screen.board.panes.get(agent_id)
    return "" if pane is None else pane.content.plain  # type: ignore[union-attr]


def header_text(app: DelegateApp) -> str:
    screen = app.main_screen
    assert screen is not None
    return screen.header.content.plain  # type: ignore[union-attr]


def usage_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.startswith("in ")), "")


def live_app(run: Any, tmp_path: Path) -> DelegateApp:
    return DelegateApp(session=run.session, task="Find things out", export_dir=tmp_path)


async def test_pane_and_header_figures_move_mid_stream_marked_until_usage_replaces_them(
    tmp_path: Path,
) -> None:
    stall = Stall()
    reply = stalled_after(5, stall)
    async with fault_run(tmp_path, plan_with(reply), start=False, interactive=True) as run:
        app = live_app(run, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.wait_for(stall.reached.wait(), 10)
            out = 1 + estimate_tokens(len("".join(LINES[:5])))
            # Mid-stream: the estimate is on screen, marked, and it counts in the header.
            await wait_until(pilot, lambda: f"out ~{out} " in usage_line(pane_text(app)))
            line = usage_line(pane_text(app))
            assert "~$0.0" in line and "~$0.0000 " not in line
            await wait_until(pilot, lambda: re.search(r" / ~\d+ out / ", header_text(app)))
            assert "cost ~$" in header_text(app)
            # Tokens per second of the reply streaming now.
            await wait_until(pilot, lambda: "tok/s" in pane_text(app))
            assert app.view.agents[WORKER].tokens_per_s is not None
            stall.release()
            # The turn's own usage replaces the estimate: no mark left anywhere.
            await wait_until(pilot, lambda: f"out {FINAL_OUT} " in usage_line(pane_text(app)))
            assert "~" not in usage_line(pane_text(app))
            await wait_until(pilot, lambda: run.session.answered)
            await wait_until(pilot, lambda: "~" not in header_text(app))
            assert "tok/s" in pane_text(app)  # the last reply's speed stays, dimmed


async def test_the_tail_shows_the_line_still_streaming_as_it_grows(tmp_path: Path) -> None:
    words = " ".join(f"w{i:03d}" for i in range(120))  # one 599-character line
    body = "first line\n" + words + "\nlast line\n"
    stall = Stall()
    # Deltas of ~60 characters: the stall comes with the long line half streamed.
    reply = stalled_after(6, stall, body=body, pieces=len(body) // 60 + 1)
    async with fault_run(tmp_path, plan_with(reply), start=False, interactive=True) as run:
        app = live_app(run, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.wait_for(stall.reached.wait(), 10)
            agent = app.view.agents
            await wait_until(pilot, lambda: WORKER in agent and agent[WORKER].partial != "")
            streamed = "".join(e.text for e in run.recorder.of(TextDelta, WORKER))
            assert "\nlast" not in streamed  # the long line has no newline yet
            newest = streamed.split()[-2]  # the last whole word streamed
            await wait_until(pilot, lambda: newest in pane_text(app))
            tail = pane_text(app).splitlines()
            assert any(row.startswith("…") for row in tail)  # its start no longer fits
            assert "first line" in tail  # a finished line stays above it
            stall.release()
            await wait_until(pilot, lambda: "last line" in pane_text(app))


async def test_the_open_transcript_streams_the_reply_before_the_turn_ends(
    tmp_path: Path,
) -> None:
    stall = Stall()
    reply = stalled_after(5, stall)
    async with fault_run(tmp_path, plan_with(reply), start=False, interactive=True) as run:
        app = live_app(run, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: WORKER in app.view.agents)
            screen = TranscriptScreen(app.view, WORKER, tmp_path)
            await app.push_screen(screen)
            await asyncio.wait_for(stall.reached.wait(), 10)
            await wait_until(pilot, lambda: "line 04" in screen.live_text)
            assert "line 00" in screen.live_text and "line 05" not in screen.live_text
            log = screen.query_one(RichLog)
            assert not any("line 00" in strip.text for strip in log.lines)
            stall.release()
            # The finished reply moves into the log and the live part goes away.
            await wait_until(pilot, lambda: any("line 11" in s.text for s in log.lines))
            await wait_until(pilot, lambda: screen.live_text == "")


async def test_the_tail_says_which_tool_input_is_being_written_and_how_far(
    tmp_path: Path,
) -> None:
    stall = Stall()
    call = ToolUse("list_files", {"path": "notes/" + "x" * 400}, pieces=8)
    blocks = [Text("I will look at the notes.\n", 1), call]
    # Stalled inside the call's input: the text delta, the empty first input delta, 4 more.
    reply = stalled_after(6, stall, blocks=blocks, stop_reason="tool_use")
    async with fault_run(tmp_path, plan_with(reply), start=False, interactive=True) as run:
        app = live_app(run, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.wait_for(stall.reached.wait(), 10)
            pattern = re.compile(r"✎ list_files input: ~(\d+) tokens so far")
            await wait_until(pilot, lambda: pattern.search(pane_text(app)))
            match = pattern.search(pane_text(app))
            assert match is not None and int(match.group(1)) > 0
            assert "I will look at the notes." in pane_text(app)
            # The open transcript says it too, under the text streamed before the call.
            screen = TranscriptScreen(app.view, WORKER, tmp_path)
            await app.push_screen(screen)
            await wait_until(pilot, lambda: "✎ list_files input: ~" in screen.live_text)
            assert "I will look at the notes." in screen.live_text
            app.pop_screen()
            stall.release()
            # The call runs: the row gives way to the call's own line.
            await wait_until(pilot, lambda: "→ list_files" in pane_text(app))
            assert "✎" not in pane_text(app)


# --- the view model, on events with fixed timestamps ---------------------------------


def _events(agent: str = "coding-1") -> list[Event]:
    def usage(ts: float, out: int, estimated: bool) -> UsageUpdated:
        return UsageUpdated(
            run_id="r", agent_id=agent, ts=ts, attempt=1, input_tokens=100,
            output_tokens=out, cache_read_tokens=0, cache_write_tokens=0,
            cost_usd=out * 1e-5, estimated=estimated,
        )  # fmt: skip

    return [
        AgentSpawned(run_id="r", agent_id=agent, ts=0.0, role="coding", model=MODEL, task="t"),
        AgentStateChanged(run_id="r", agent_id=agent, ts=0.0, state="running"),
        TurnStarted(run_id="r", agent_id=agent, ts=1.0, turn=1, model=MODEL),
        usage(1.5, 1, False),  # message_start
        TextDelta(run_id="r", agent_id=agent, ts=1.6, turn=1, text="partial "),
        usage(2.0, 51, True),
        usage(3.5, 201, True),
    ]


def test_rate_is_output_since_the_first_report_over_its_time_and_the_last_one_stays() -> None:
    view = RunView()
    for event in _events():
        view.apply(event)
    agent = view.agents["coding-1"]
    assert agent.tokens.estimated and fmt_output(agent.tokens) == "~201"
    assert agent.tokens_per_s == (201 - 1) / (3.5 - 1.5)
    assert fmt_spend(agent.tokens).startswith("~$")
    assert view.totals().tokens.estimated  # the header's totals are marked too
    done = UsageUpdated(
        run_id="r", agent_id="coding-1", ts=5.5, attempt=1, input_tokens=100,
        output_tokens=301, cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.003,
    )  # fmt: skip
    view.apply(done)
    view.apply(MessageAppended(run_id="r", agent_id="coding-1", ts=5.5, attempt=1,
                               role="assistant", content=[]))  # fmt: skip
    view.apply(TurnEnded(run_id="r", agent_id="coding-1", ts=5.5, turn=1, stop_reason="end_turn"))
    assert not agent.tokens.estimated and fmt_output(agent.tokens) == "301"
    assert agent.tokens_per_s == 300 / 4.0  # the last reply's, between replies
    assert agent.avg_tokens_per_s == 300 / 4.0
    assert agent.reply == "" and not agent.replying
    # A short second reply (under RATE_MIN_SPAN_S) keeps the last rate on show.
    view.apply(TurnStarted(run_id="r", agent_id="coding-1", ts=10.0, turn=2, model=MODEL))
    assert agent.tokens_per_s == 75.0


def test_tokens_sum_their_estimate_marks() -> None:
    exact, guessed = Tokens(output=10, cost=0.1), Tokens(output=5, cost=0.2, estimated=True)
    assert not exact.plus(exact).estimated
    assert exact.plus(guessed).estimated and guessed.plus(exact).estimated
    assert fmt_spend(Tokens(cost=None, estimated=True)) == "$?"


def test_tail_rows_wrap_the_streaming_line_to_its_newest_text() -> None:
    partial = " ".join(f"w{i:02d}" for i in range(40))  # 159 characters
    rows = tail_rows(["done line one", "done line two"], partial, 20, 4)
    assert rows[0] == "done line two"  # one finished line stays above
    assert rows[1].startswith("…") and rows[-1].endswith("w39")
    assert all(len(r) <= 20 for r in rows) and len(rows) == 4
    # No partial: one row per finished line, cut at the width as before.
    assert tail_rows(["x" * 50, "short"], "", 20, 4) == ["x" * 19 + "…", "short"]
    assert tail_rows([], "a short partial", 20, 3) == ["a short partial"]
