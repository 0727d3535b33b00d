"""Supervisor: parallel spawn, the cap and its FIFO queue, timeouts, kill, steer, retry."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.events import (
    AgentQueued,
    AgentStateChanged,
    MessageAppended,
    SteerDelivered,
    SteerQueued,
    TextDelta,
    TimeoutChanged,
    ToolCallStarted,
)
from core.llm import TurnError, TurnRequest, TurnResult, TurnSink
from core.runner import Deadline
from core.supervisor import WRAP_UP_MESSAGE, SupervisorError
from tests.scripted import ScriptedModel, all_text, first_text, make_supervisor, text, tool_use


async def test_parallel_spawn_is_parallel(tmp_path: Path) -> None:
    async def one_second(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await asyncio.sleep(1.0)  # the model's reply time, not a wait for something
        return text("finished")

    sup, _, _ = make_supervisor(ScriptedModel(one_second), tmp_path)
    started = time.monotonic()
    records = [sup.spawn("coding", f"task {i}", "claude-haiku-5-5", None) for i in range(3)]
    await sup.wait([r.agent_id for r in records], timeout_s=10)
    wall = time.monotonic() - started
    assert [r.state for r in records] == ["done"] * 3
    assert wall < 2.0, f"3 one-second agents took {wall:.2f}s: not parallel"


async def test_cap_queues_the_rest_in_fifo_order(tmp_path: Path) -> None:
    gates: dict[str, asyncio.Event] = {}

    async def gated(request: TurnRequest, sink: TurnSink) -> TurnResult:
        gate = gates.setdefault(first_text(request), asyncio.Event())
        await gate.wait()
        return text("ok")

    sup, _, rec = make_supervisor(ScriptedModel(gated), tmp_path, cap=2)
    ids = [sup.spawn("research", f"t{i}", "claude-haiku-5-5", None).agent_id for i in range(5)]
    assert [sup.get(a).state for a in ids] == ["running", "running", "queued", "queued", "queued"]
    positions = {e.agent_id: e.position for e in rec.of(AgentQueued)}
    assert positions == {ids[2]: 1, ids[3]: 2, ids[4]: 3}

    for i in range(5):  # finish them one by one; the next in line starts each time
        await rec.wait_for(
            lambda e, i=i: (
                isinstance(e, AgentStateChanged) and e.agent_id == ids[i] and e.state == "running"
            )
        )
        gates.setdefault(f"t{i}", asyncio.Event()).set()
        await sup.wait([ids[i]], timeout_s=5)
        if i + 2 < len(ids):
            # The next in line started in the same step as the finish that freed its
            # place (before the waiter on the finish resumed): no poll, no timer.
            assert sup.get(ids[i + 2]).state == "running"
    started = [e.agent_id for e in rec.of(AgentStateChanged) if e.state == "running"]
    assert started == ids
    assert all(sup.get(a).state == "done" for a in ids)


async def test_timeout_wraps_up_then_stops_and_keeps_the_partial_transcript(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    hang = asyncio.Event()

    async def slow(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("list_files", {})
        sink.on_text("Half of my report")
        await hang.wait()  # never set: the reply stalls until the timeout
        return text("unreachable")

    sup, _, rec = make_supervisor(ScriptedModel(slow), tmp_path)
    record = sup.spawn("coding", "a long task", "claude-haiku-5-5", timeout_s=0.5)
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "timed_out"
    wrap = [e for e in rec.of(SteerQueued) if e.source == "timeout"]
    assert len(wrap) == 1 and wrap[0].message == WRAP_UP_MESSAGE
    messages = rec.of(MessageAppended, record.agent_id)
    roles = [m.role for m in messages]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert messages[-1].content == [{"type": "text", "text": "Half of my report"}]
    assert record.result == "Half of my report"
    assert 0.5 <= record.elapsed_s < 3.0


async def test_extend_timeout_moves_the_deadline(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def gated(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await gate.wait()
        return text("done in time")

    sup, _, rec = make_supervisor(ScriptedModel(gated), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", timeout_s=0.3)
    assert sup.extend(record.agent_id, 30) == pytest.approx(30.3)
    assert rec.of(TimeoutChanged)[-1].timeout_s == pytest.approx(30.3)
    await asyncio.sleep(0.5)  # past the original deadline: it must still run
    assert record.state == "running"
    gate.set()
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "done"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


async def test_kill_ends_the_running_command_and_its_children(tmp_path: Path) -> None:
    command = "echo $$ > shell.pid; sleep 30 & echo $! > child.pid; sleep 30; wait"

    async def runner(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("run_command", {"command": command, "timeout_s": 60})
        return text("ran it")

    sup, _, rec = make_supervisor(ScriptedModel(runner), tmp_path)
    record = sup.spawn("coding", "run a long command", "claude-haiku-5-5", None)
    await rec.wait_for(lambda e: isinstance(e, ToolCallStarted))
    pid_files = [tmp_path / "shell.pid", tmp_path / "child.pid"]
    for _ in range(500):  # the shell writes its pids as soon as it starts
        if all(p.exists() and p.read_text().strip() for p in pid_files):
            break
        await asyncio.sleep(0.01)
    pids = [int(p.read_text()) for p in pid_files]
    assert all(_alive(pid) for pid in pids)

    killed_at = time.monotonic()
    assert await sup.kill(record.agent_id) == "killed"
    for _ in range(100):
        if not any(_alive(pid) for pid in pids):
            break
        await asyncio.sleep(0.01)
    assert not any(_alive(pid) for pid in pids)
    assert time.monotonic() - killed_at < 1.0
    assert record.state == "killed"


async def test_steer_is_delivered_at_the_next_turn_with_a_receipt(tmp_path: Path) -> None:
    in_tool = asyncio.Event()
    release = asyncio.Event()

    async def two_turns(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            # Hold the agent inside its first turn so the steer lands mid-turn.
            in_tool.set()
            await release.wait()
            return tool_use("list_files", {})
        return text("report")

    model = ScriptedModel(two_turns)
    sup, _, rec = make_supervisor(model, tmp_path)
    record = sup.spawn("research", "look around", "claude-haiku-5-5", None)
    await asyncio.wait_for(in_tool.wait(), 5)
    steer = sup.steer(record.agent_id, "Focus on pricing.", source="operator")
    queued = rec.of(SteerQueued, record.agent_id)
    assert [q.steer_id for q in queued] == [steer.steer_id]
    assert not rec.of(SteerDelivered)
    release.set()
    await sup.wait([record.agent_id], timeout_s=5)
    delivered = rec.of(SteerDelivered, record.agent_id)
    assert [(d.steer_id, d.turn) for d in delivered] == [(steer.steer_id, 2)]
    second = model.requests[1]
    last_user = second.messages[-1]["content"]
    assert last_user[0]["type"] == "tool_result"
    assert last_user[-1] == {"type": "text", "text": "[message from the lead] Focus on pricing."}


async def test_interrupt_and_steer_keeps_what_streamed_and_delivers_at_once(
    tmp_path: Path,
) -> None:
    streaming = asyncio.Event()
    never = asyncio.Event()

    async def chatty(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            sink.on_text("I will write a long essay about")
            streaming.set()
            await never.wait()
        return text("short answer")

    model = ScriptedModel(chatty)
    sup, _, rec = make_supervisor(model, tmp_path)
    record = sup.spawn("writer", "write", "claude-sonnet-5-5", None)
    await asyncio.wait_for(streaming.wait(), 5)
    sup.steer(record.agent_id, "Be brief.", interrupt=True)
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "done" and record.result == "short answer"
    retry_request = model.requests[1]
    assert retry_request.messages[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I will write a long essay about"}],
    }
    assert "Be brief." in all_text(retry_request)
    assert rec.of(SteerDelivered, record.agent_id)[0].turn == 2


async def test_retry_makes_attempt_two_with_feedback_and_model(tmp_path: Path) -> None:
    async def fails_first(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if "Feedback on your previous attempt" not in first_text(request):
            raise TurnError(
                "model 'x' not found (404)",
                status=404,
                error_type="not_found_error",
                retryable=False,
            )
        return text("fixed")

    sup, _, rec = make_supervisor(ScriptedModel(fails_first), tmp_path)
    record = sup.spawn("coding", "build it", "claude-haiku-5-5", None)
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "failed" and "404" in record.reason
    with pytest.raises(SupervisorError):
        sup.steer(record.agent_id, "too late")
    again = sup.retry(record.agent_id, note="Add the contact form.", model="claude-sonnet-5-5")
    assert again is record and record.attempt == 2 and record.model == "claude-sonnet-5-5"
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "done" and record.result == "fixed"
    firsts = [m for m in rec.of(MessageAppended, record.agent_id) if m.attempt == 2]
    assert "Add the contact form." in firsts[0].content[0]["text"]


async def test_kill_of_a_queued_agent_frees_its_place(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def gated(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await gate.wait()
        return text("ok")

    sup, _, _ = make_supervisor(ScriptedModel(gated), tmp_path, cap=1)
    a = sup.spawn("coding", "a", "claude-haiku-5-5", None)
    b = sup.spawn("coding", "b", "claude-haiku-5-5", None)
    c = sup.spawn("coding", "c", "claude-haiku-5-5", None)
    assert await sup.kill(b.agent_id) == "killed"
    assert list(sup.queue) == [c.agent_id]
    gate.set()
    await sup.wait([a.agent_id, c.agent_id], timeout_s=5)
    assert (a.state, b.state, c.state) == ("done", "killed", "done")


async def test_text_streams_as_events(tmp_path: Path) -> None:
    async def streamed(request: TurnRequest, sink: TurnSink) -> TurnResult:
        for word in ("one ", "two ", "three"):
            sink.on_text(word)
        return text("one two three")

    sup, _, rec = make_supervisor(ScriptedModel(streamed), tmp_path)
    record = sup.spawn("writer", "count", "claude-sonnet-5-5", None)
    await sup.wait([record.agent_id], timeout_s=5)
    # The bus may join the deltas of one loop iteration into one event (issue 15): what
    # streamed arrives whole and in order, as at least one event, none empty.
    deltas = [e.text for e in rec.of(TextDelta, record.agent_id)]
    assert "".join(deltas) == "one two three" and all(deltas)


class FakeClock:
    """The supervisor's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_timeout_clock_stands_still_while_waiting_for_approval(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def waits(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await never.wait()
        return text("unreachable")

    clock = FakeClock()
    sup, _, rec = make_supervisor(ScriptedModel(waits), tmp_path, clock=clock)
    record = sup.spawn("coding", "task", "claude-haiku-5-5", 100.0)
    assert sup._deadline(record) == Deadline(timeout_s=100.0, wrap_up_s=80.0)
    clock.now += 10
    assert record.elapsed_s == pytest.approx(10)

    sup.set_waiting(record.agent_id, True)
    assert record.state == "waiting_approval"
    assert sup._deadline(record) == Deadline()  # no wrap-up, no timeout while it waits
    clock.now += 60
    assert record.elapsed_s == pytest.approx(10)  # the operator's minute is not its time
    sup.extend(record.agent_id, 50)  # extending while it waits does not restart the clock
    assert sup._deadline(record) == Deadline()

    sup.set_waiting(record.agent_id, False)
    assert record.state == "running"
    assert record.elapsed_s == pytest.approx(10)
    # The runner counts from the attempt's start: its deadline moves by the minute waited.
    assert sup._deadline(record) == Deadline(timeout_s=150.0 + 60, wrap_up_s=120.0 + 60)
    clock.now += 5
    assert record.elapsed_s == pytest.approx(15)
    states = [e.state for e in rec.of(AgentStateChanged) if e.agent_id == record.agent_id]
    assert states == ["queued", "running", "waiting_approval", "running"]

    sup.set_waiting(record.agent_id, True)
    clock.now += 30
    assert await sup.kill(record.agent_id) == "killed"  # ended while waiting: the wait ends
    assert record.elapsed_s == pytest.approx(15)
    assert record.waiting_since is None


async def test_two_requests_of_one_agent_wait_until_both_are_answered(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def waits(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await never.wait()
        return text("unreachable")

    clock = FakeClock()
    sup, _, rec = make_supervisor(ScriptedModel(waits), tmp_path, clock=clock)
    record = sup.spawn("coding", "task", "claude-haiku-5-5", 100.0)
    sup.set_waiting(record.agent_id, True)
    sup.set_waiting(record.agent_id, True)
    clock.now += 20
    sup.set_waiting(record.agent_id, False)
    assert record.state == "waiting_approval" and record.elapsed_s == pytest.approx(0)
    sup.set_waiting(record.agent_id, False)
    assert record.state == "running"
    states = [e.state for e in rec.of(AgentStateChanged) if e.agent_id == record.agent_id]
    assert states == ["queued", "running", "waiting_approval", "running"]
    await sup.shutdown("stopped")  # at once, before the attempt's first step
    assert (record.state, record.reason) == ("stopped", "stopped by the operator")
