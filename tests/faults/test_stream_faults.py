"""Failures after a stream has started, which the SDK does not retry: the turn is retried."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.events import CEO_ID, AgentStateChanged, ApiRetry, TextDelta
from tests.fakeapi import (
    NoAnswer,
    Reply,
    drop_mid_stream,
    error_mid_stream,
    malformed_data,
    stalled,
    text_reply,
    without_message_stop,
)
from tests.faults.harness import Plan, Worker, agent_id, assert_recovered, fault_run

PARTIAL = text_reply("a partial answer that will be cut", pieces=4)
FAULTS: dict[str, tuple[Reply, str]] = {
    "sse-error": (
        error_mid_stream(PARTIAL, after=4, error_type="overloaded_error"),
        "API overloaded mid-reply (overloaded_error): Overloaded",
    ),
    "dropped": (drop_mid_stream(PARTIAL, after=4), "the connection dropped mid-reply"),
    "no-message-stop": (without_message_stop(PARTIAL), "the stream ended early"),
    "malformed-data": (malformed_data(PARTIAL, after=4), "the stream was malformed"),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_mid_stream_fault_is_retried_and_the_run_finishes(tmp_path: Path, name: str) -> None:
    fault, words = FAULTS[name]
    plan = Plan([Worker("a", turns=2), Worker("b")])
    plan.fail("a", 3, fault)  # after two good turns
    plan.fail(CEO_ID, 2, fault)

    async with fault_run(tmp_path, plan) as run:
        outcome = await run.finish()
        assert_recovered(run, outcome)
        a = agent_id(run, plan.workers[0])
        for key in (a, CEO_ID):
            (retry,) = run.recorder.of(ApiRetry, key)
            assert words in retry.reason
        assert [c.try_no for c in plan.of("a") if c.turn == 3] == [1, 2]
        # The cut reply's text was shown as it streamed, but is not in the conversation.
        cut = "".join(e.text for e in run.recorder.of(TextDelta, a) if e.turn == 3)
        assert cut.startswith("a partial") and cut.endswith("report from a")
        assert "a partial answer" not in run.last_ceo_request()
        await run.assert_stored()


async def test_permanent_error_event_mid_stream_fails_the_agent_at_once(tmp_path: Path) -> None:
    plan = Plan([Worker("a"), Worker("b")])
    fault = error_mid_stream(PARTIAL, error_type="invalid_request_error", text="prompt is too long")
    plan.fail("a", 1, fault)

    async with fault_run(tmp_path, plan) as run:
        outcome = await run.finish()
        finished = run.finished(agent_id(run, plan.workers[0]))
        assert finished.state == "failed"
        assert "invalid_request_error" in finished.result
        assert "prompt is too long" in finished.result
        assert len(plan.of("a")) == 1
        assert run.finished(agent_id(run, plan.workers[1])).state == "done"
        assert "prompt is too long" in run.last_ceo_request()
        assert outcome.status == "failed"
        await run.assert_stored()


@pytest.mark.parametrize("kind", ["headers-only", "no-headers"])
async def test_stalled_stream_still_times_the_agent_out_on_time(tmp_path: Path, kind: str) -> None:
    """No byte (after the headers, or at all): the agent's own timeout (1 s) ends it, not
    the SDK's 600 s read timeout."""
    if kind == "headers-only":
        reply, stall = stalled(PARTIAL, after=0)
        reached = stall.reached
    else:
        silent = NoAnswer()
        reply, reached = silent, silent.reached
    plan = Plan([Worker("slow", timeout_s=1.0), Worker("b")])
    plan.fail("slow", 1, reply)

    async with fault_run(tmp_path, plan) as run:
        slow = await run.recorder.wait_for(
            lambda e: (
                isinstance(e, AgentStateChanged) and e.state == "running" and e.agent_id != CEO_ID
            )
        )
        started = time.monotonic()
        await run.recorder.wait_for(
            lambda e: isinstance(e, AgentStateChanged) and e.state == "timed_out", timeout_s=5
        )
        elapsed = time.monotonic() - started
        assert reached.is_set()
        assert 0.9 <= elapsed <= 2.5, elapsed
        outcome = await run.finish()
        assert slow.agent_id == agent_id(run, plan.workers[0])
        finished = run.finished(slow.agent_id)
        assert finished.state == "timed_out" and finished.result == "timed out"
        assert run.finished(agent_id(run, plan.workers[1])).state == "done"
        assert "timed_out" in run.last_ceo_request()
        assert outcome.status == "failed"
        await run.assert_stored()


async def test_stalled_stream_without_an_agent_timeout_hits_the_read_timeout_and_retries(
    tmp_path: Path,
) -> None:
    """The SDK's read timeout (here 0.3 s) turns a silent stream into a turn retry."""
    reply, stall = stalled(PARTIAL, after=2)
    plan = Plan([Worker("a")])
    plan.fail("a", 1, reply)

    async with fault_run(tmp_path, plan, sdk_timeout_s=0.3) as run:
        outcome = await run.finish()
        assert_recovered(run, outcome)
        (retry,) = run.recorder.of(ApiRetry, agent_id(run, plan.workers[0]))
        assert "did not answer in time" in retry.reason
        assert stall.reached.is_set()
        await run.assert_stored()
