"""RunView: events in, board/chat/totals out, without Textual."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.events import (
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentStateChanged,
    ApprovalRequested,
    ApprovalResolved,
    CeoWaiting,
    Event,
    Notice,
    OperatorMessage,
    RunFinished,
    SteerDelivered,
    SteerQueued,
    TextDelta,
    TimeoutChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnStarted,
    UsageUpdated,
)
from core.session import Session
from tests.tui_support import sim_settings
from tui.sample_run import SAMPLE_NOW, sample_events
from tui.view_model import TAIL_LINES, RunView
from tui.widgets.agent_pane import BODY_LINES, clock_style, render_agent

R = "run-1"


def spawned(view: RunView, agent_id: str = "coding-1", **kw: object) -> None:
    fields = {"role": "coding", "model": "claude-haiku-5-5", "task": "t", "timeout_s": 100.0}
    fields.update(kw)
    view.apply(AgentSpawned(run_id=R, agent_id=agent_id, ts=1000.0, **fields))  # type: ignore[arg-type]


def test_sample_run_board_and_totals() -> None:
    view = RunView()
    for ev in sample_events():
        view.apply(ev)
    states = {a.agent_id: a.state for a in view.board()}
    assert states == {
        "research-1": "running",
        "coding-1": "waiting_approval",
        "writer-1": "done",
        "data-1": "failed",
        "coding-2": "queued",
    }
    assert view.agents["coding-2"].queue_position == 1
    t = view.totals()
    assert (t.running, t.queued, t.done, t.failed) == (2, 1, 1, 1)
    assert t.tokens.cost is not None and t.tokens.cost > 0.06
    assert list(view.approvals) == ["apr-0001"]
    spawn_lines = [c.text for c in view.chat if c.kind == "tool"]
    assert spawn_lines[0].startswith("spawned research-1: Survey three")
    assert spawn_lines[0].endswith("· haiku · 5m")
    assert "queued #1" in spawn_lines[-1]
    notices = [c.text for c in view.chat if c.kind == "notice"]
    assert notices == ["writer-1 done after 1:04", "data-1 failed after 0:41"]
    receipts = view.agents["writer-1"].steers
    assert receipts[0].delivered_turn == 3
    assert view.agents["research-1"].steers[-1].delivered_turn is None


def test_queue_state_timeout_and_clock() -> None:
    view = RunView()
    spawned(view)
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="queued", ts=1000.0))
    view.apply(AgentQueued(run_id=R, agent_id="coding-1", position=3, ts=1000.0))
    agent = view.agents["coding-1"]
    assert agent.queue_position == 3
    assert agent.elapsed(5000.0) == 0.0
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="running", ts=1010.0))
    assert agent.queue_position is None
    assert agent.timeout_fraction(1090.0) == 0.8
    assert clock_style(0.5) == "$legible-success"
    assert clock_style(0.8) == "$legible-warning"
    assert clock_style(0.96) == "$legible-error"
    view.apply(TimeoutChanged(run_id=R, agent_id="coding-1", timeout_s=400.0, ts=1090.0))
    assert agent.timeout_fraction(1090.0) == 0.2
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="killed", ts=1100.0))
    assert agent.finished and agent.elapsed(99999.0) == 90.0
    assert "coding-1" in view.take_dirty()[0]
    assert view.take_dirty() == (set(), set(), False)


def test_tail_is_a_bounded_ring_buffer() -> None:
    view = RunView()
    spawned(view)
    for i in range(TAIL_LINES * 5):
        view.apply(TextDelta(run_id=R, agent_id="coding-1", turn=1, text=f"line {i}\npart"))
    agent = view.agents["coding-1"]
    assert len(agent.tail) == TAIL_LINES
    assert agent.tail_lines(2) == [f"partline {TAIL_LINES * 5 - 1}", "part"]
    view.apply(TextDelta(run_id=R, agent_id="coding-1", turn=1, text="x" * 10_000))
    assert len(agent.partial) <= 400


def test_a_turn_end_moves_the_last_line_into_the_tail_once() -> None:
    view = RunView()
    spawned(view)
    view.apply(TextDelta(run_id=R, agent_id="coding-1", turn=1, text="first\nlast words"))
    view.apply(TurnEnded(run_id=R, agent_id="coding-1", turn=1, stop_reason="tool_use"))
    agent = view.agents["coding-1"]
    assert agent.tail_lines(5) == ["first", "last words"]
    assert agent.partial == ""


def test_retry_keeps_prior_usage_and_steers() -> None:
    view = RunView()
    spawned(view)
    usage = {"cache_read_tokens": 0, "cache_write_tokens": 0, "context_tokens": 50}
    view.apply(
        UsageUpdated(
            run_id=R,
            agent_id="coding-1",
            attempt=1,
            input_tokens=100,
            output_tokens=10,
            cost_usd=0.5,
            **usage,
        )
    )
    view.apply(SteerQueued(run_id=R, agent_id="coding-1", steer_id="s1", message="hi"))
    view.apply(
        AgentFinished(run_id=R, agent_id="coding-1", state="failed", result="x", elapsed_s=1)
    )
    spawned(view, attempt=2, note="try harder")
    view.apply(
        UsageUpdated(
            run_id=R,
            agent_id="coding-1",
            attempt=2,
            input_tokens=7,
            output_tokens=3,
            cost_usd=0.25,
            **usage,
        )
    )
    agent = view.agents["coding-1"]
    assert agent.attempt == 2 and agent.state == "queued"
    assert (agent.tokens.input, agent.tokens.output, agent.tokens.cost) == (107, 13, 0.75)
    assert agent.steers[0].steer_id == "s1"
    assert any("attempt 2: try harder" in line for line in agent.tail)
    assert len(view.board()) == 1


def test_ceo_chat_streaming_tools_and_queued_operator() -> None:
    view = RunView()
    view.apply(AgentSpawned(run_id=R, agent_id="ceo", role="ceo", model="claude-opus-5-5", task=""))
    view.apply(TurnStarted(run_id=R, agent_id="ceo", turn=1, model="claude-opus-5-5"))
    view.apply(TextDelta(run_id=R, agent_id="ceo", turn=1, text="Hello "))
    view.apply(TextDelta(run_id=R, agent_id="ceo", turn=1, text="there"))
    view.apply(OperatorMessage(run_id=R, agent_id="ceo", text="faster please", queued=True))
    assert view.ceo_busy
    view.apply(
        ToolCallStarted(
            run_id=R,
            agent_id="ceo",
            tool_use_id="t1",
            name="run_check",
            input={"command": "pytest -q"},
        )
    )
    view.apply(
        ToolCallFinished(
            run_id=R,
            agent_id="ceo",
            tool_use_id="t1",
            name="run_check",
            output='{"exit_code": 1, "stdout_tail": "1 failed"}',
            data={"exit_code": 1, "timed_out": False},
        )
    )
    view.apply(TurnEnded(run_id=R, agent_id="ceo", turn=1, stop_reason="end_turn"))
    assert not view.ceo_busy
    kinds = [(c.kind, c.text) for c in view.chat]
    assert kinds[0] == ("ceo", "Hello there")
    assert not view.chat[0].streaming
    assert kinds[2] == ("tool", "ran check: pytest -q → exit 1")
    operator = view.chat[1]
    assert operator.queued and not operator.done
    view.apply(TurnStarted(run_id=R, agent_id="ceo", turn=2, model="claude-opus-5-5"))
    assert operator.done


def test_approvals_and_steer_receipts() -> None:
    view = RunView()
    spawned(view)
    view.apply(
        ApprovalRequested(
            run_id=R,
            agent_id="coding-1",
            request_id="a1",
            tool="run_command",
            command="make",
            cwd="/w",
        )
    )
    assert view.oldest_approval() is not None
    view.apply(ApprovalResolved(run_id=R, agent_id="coding-1", request_id="a1", decision="once"))
    assert view.oldest_approval() is None
    view.apply(SteerQueued(run_id=R, agent_id="coding-1", steer_id="s1", message="use flexbox"))
    view.apply(SteerDelivered(run_id=R, agent_id="coding-1", steer_id="s1", turn=4))
    text = render_agent(view.agents["coding-1"], 1000.0, 60).plain
    assert "steer delivered at turn 4: use flexbox" in text


def test_pane_render_is_fixed_height_and_clear_finished() -> None:
    view = RunView()
    for ev in sample_events():
        view.apply(ev)
    for agent in view.board():
        body = render_agent(agent, SAMPLE_NOW, 44).plain
        assert len(body.splitlines()) <= BODY_LINES
    assert "queued #1" in render_agent(view.agents["coding-2"], SAMPLE_NOW, 44).plain
    assert "waiting for approval" in render_agent(view.agents["coding-1"], SAMPLE_NOW, 44).plain
    assert view.clear_finished() == 2
    assert {a.agent_id for a in view.board()} == {"research-1", "coding-1", "coding-2"}


def _ceo_turn(view: RunView, turn: int, text: str, stop_reason: str) -> None:
    view.apply(TurnStarted(run_id=R, agent_id="ceo", turn=turn, model="claude-opus-5-5"))
    assert not view.answered and view.display_status == "running"
    if text:
        view.apply(TextDelta(run_id=R, agent_id="ceo", turn=turn, text=text))
    view.apply(TurnEnded(run_id=R, agent_id="ceo", turn=turn, stop_reason=stop_reason))


def test_answered_when_the_ceo_ends_its_turn_with_nothing_running() -> None:
    view = RunView()
    view.apply(AgentSpawned(run_id=R, agent_id="ceo", role="ceo", model="claude-opus-5-5", task=""))
    spawned(view)
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="running", ts=1000.0))
    _ceo_turn(view, 1, "Started the coding agent.", "end_turn")
    assert not view.answered  # a sub-agent still runs
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="done", ts=1010.0))
    _ceo_turn(view, 2, "", "end_turn")
    assert not view.answered  # no text: nothing was answered
    _ceo_turn(view, 3, "Here is the page.", "end_turn")
    assert view.answered and view.display_status == "answered"
    view.take_dirty()
    view.apply(OperatorMessage(run_id=R, agent_id="ceo", text="one more thing"))
    assert not view.answered and view.take_dirty()[2]
    _ceo_turn(view, 4, "Retrying it.", "end_turn")
    assert view.answered
    spawned(view, attempt=2)  # a retry by the operator: running again
    assert not view.answered
    view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state="failed", ts=1020.0))
    view.apply(Notice(run_id=R, agent_id="ceo", text="The CEO is waiting for you."))
    view.apply(CeoWaiting(run_id=R, agent_id="ceo", answered=True))
    assert view.answered  # the session's idle notice says the same
    view.apply(RunFinished(run_id=R, status="done", result="ok", cost_usd=0.0))
    assert view.display_status == "done"


async def test_answered_from_a_recorded_interactive_run(tmp_path: Path) -> None:
    """The live simulated run and its events replayed both end in the answered state."""
    session = Session(sim_settings(tmp_path, permission_mode="allow"), interactive=True)
    events: list[Event] = []
    answered = asyncio.Event()

    def record(ev: Event) -> None:
        events.append(ev)
        if isinstance(ev, Notice) and "waiting for you" in ev.text:
            answered.set()

    session.bus.subscribe(record)
    session.start("Build a landing page")
    try:
        await asyncio.wait_for(answered.wait(), 15)
        assert session.answered
    finally:
        await session.close()
    cut = next(
        i for i, ev in enumerate(events) if isinstance(ev, Notice) and "waiting for you" in ev.text
    )
    replayed = RunView()
    for ev in events[:cut]:
        replayed.apply(ev)
    assert replayed.answered  # from the CEO's last end_turn alone, before the notice
    for ev in events[cut:]:
        replayed.apply(ev)
    assert replayed.display_status == "done"  # closed after the answer: recorded as done


def test_pane_clock_stands_still_while_waiting_for_approval() -> None:
    view = RunView()
    spawned(view)

    def state(name: str, ts: float) -> None:
        view.apply(AgentStateChanged(run_id=R, agent_id="coding-1", state=name, ts=ts))  # type: ignore[arg-type]

    state("running", 1000.0)
    state("waiting_approval", 1010.0)
    agent = view.agents["coding-1"]
    assert agent.elapsed(1010.0) == agent.elapsed(1040.0) == 10.0  # the figure does not move
    text = render_agent(agent, 1042.0, 60).plain
    assert "waiting for approval 0:32" in text and "0:10/1:40" in text
    state("running", 1042.0)
    assert agent.elapsed(1050.0) == 18.0
    state("waiting_approval", 1060.0)
    state("stopped", 1090.0)  # ended while it waited
    assert agent.elapsed(2000.0) == 28.0
    assert "waiting for approval" not in render_agent(agent, 2000.0, 60).plain


def test_stopped_agents_are_counted_apart_from_failures() -> None:
    view = RunView()
    for agent_id, end in (("coding-1", "stopped"), ("coding-2", "killed"), ("coding-3", "done")):
        spawned(view, agent_id)
        view.apply(AgentStateChanged(run_id=R, agent_id=agent_id, state="running", ts=1001.0))
        view.apply(AgentStateChanged(run_id=R, agent_id=agent_id, state=end, ts=1002.0))  # type: ignore[arg-type]
    t = view.totals()
    assert (t.done, t.failed, t.stopped) == (1, 1, 1)


def test_a_retried_agents_ends_read_as_two_attempts_not_one_end_twice() -> None:
    view = RunView()
    spawned(view)
    view.apply(AgentFinished(run_id=R, agent_id="coding-1", state="done", result="first",
                             elapsed_s=4.0))  # fmt: skip
    spawned(view, attempt=2)
    view.apply(AgentFinished(run_id=R, agent_id="coding-1", state="done", result="fixed",
                             elapsed_s=8.0, attempt=2))  # fmt: skip
    notices = [c.text for c in view.chat if c.kind == "notice"]
    assert notices == ["coding-1 done after 0:04", "coding-1 (attempt 2) done after 0:08"]


def test_the_headless_progress_names_a_retry_s_attempt_too() -> None:
    import io

    from tui.headless import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out)
    for attempt in (1, 2):
        printer(AgentFinished(run_id=R, agent_id="coding-1", state="done", result="ok",
                              elapsed_s=4.0, attempt=attempt))  # fmt: skip
    lines = [line.split(None, 2)[2] for line in out.getvalue().splitlines()]
    assert lines == ["done in 4.0s: ok", "done (attempt 2) in 4.0s: ok"]
