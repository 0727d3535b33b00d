"""Live usage through real turns over the loopback SDK: while a reply streams its output
and cost are published as an estimate (marked so) that the API's figures replace at the
end; a reply cut by a kill or an interrupt keeps its streamed tokens in the cost, in the
events, the store's projections and the run's summary."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import LIVE_USAGE_EVERY_S, Agent, live_usage_every
from core.cost_meter import estimate_tokens
from core.events import Event, TextDelta, UsageUpdated
from tests.fakeapi import Stall
from tests.faults.harness import fault_run
from tests.live_support import (
    FINAL_OUT,
    LINES,
    WORKER,
    cost,
    plan_with,
    stalled_after,
    streamed_chars,
    usage_of,
)


@contextlib.asynccontextmanager
async def stalled_mid_reply(tmp_path: Path, lines: int) -> AsyncIterator[tuple[Any, int]]:
    """A run whose worker's reply stalls after `lines` lines, every delta of them seen:
    the run and the characters streamed."""
    stall = Stall()
    async with fault_run(tmp_path, plan_with(stalled_after(lines, stall))) as run:
        await asyncio.wait_for(stall.reached.wait(), 10)
        chars = len("".join(LINES[:lines]))
        await run.recorder.wait_for(
            lambda e: isinstance(e, TextDelta) and streamed_chars(run) == chars, timeout_s=5
        )
        yield run, chars


def is_estimate_of(chars: int) -> Any:
    def check(e: Event) -> bool:
        return (
            isinstance(e, UsageUpdated)
            and e.agent_id == WORKER
            and e.estimated
            and e.output_tokens == 1 + estimate_tokens(chars)
        )

    return check


async def test_the_estimate_moves_mid_stream_and_the_reported_usage_replaces_it(
    tmp_path: Path,
) -> None:
    stall = Stall()
    async with fault_run(tmp_path, plan_with(stalled_after(5, stall))) as run:
        await asyncio.wait_for(stall.reached.wait(), 10)
        chars = len("".join(LINES[:5]))
        # The reply is still streaming (stalled): its estimate is published, marked.
        live = await run.recorder.wait_for(is_estimate_of(chars), timeout_s=5)
        assert isinstance(live, UsageUpdated)
        assert streamed_chars(run) == chars
        assert live.input_tokens == 40  # message_start's report, not an estimate
        assert live.cost_usd == pytest.approx(cost(40, 1 + estimate_tokens(chars)))
        # A few publications a second, not one per delta (5 deltas streamed).
        assert len([u for u in usage_of(run) if u.estimated]) < 5
        stall.release()
        await run.finish(timeout_s=15)
        first_turn_end = [u for u in usage_of(run) if u.output_tokens == FINAL_OUT]
        assert first_turn_end and not first_turn_end[0].estimated
        assert first_turn_end[0].cost_usd == pytest.approx(cost(40, FINAL_OUT))
        final = usage_of(run)[-1]
        assert not final.estimated  # nothing of the attempt is an estimate any more
        await run.store.flush()
        (row,) = [a for a in await run.store.agents(run.session.run_id) if a.agent_id == WORKER]
        assert row.output_tokens == final.output_tokens == FINAL_OUT


async def test_a_killed_reply_keeps_its_streamed_tokens_in_the_cost_and_the_store(
    tmp_path: Path,
) -> None:
    before = Agent.streaming_now  # (other tests' loops may have left some)
    async with stalled_mid_reply(tmp_path, 7) as (run, chars):
        assert await run.session.kill(WORKER) == "killed"
        out = 1 + estimate_tokens(chars)  # message_start's 1 and the estimate
        last = usage_of(run)[-1]
        assert (last.output_tokens, last.estimated) == (out, True)
        assert last.cost_usd == pytest.approx(cost(40, out))
        record = run.session.supervisor.get(WORKER)
        assert record.usage.output_tokens == out
        assert record.cost_usd == pytest.approx(cost(40, out))
        await run.finish(timeout_s=15)
        await run.store.flush()
        summary = await run.store.run_summary(run.session.run_id)
        (agent,) = [a for a in summary["agents"] if a["id"] == WORKER]
        assert agent["status"] == "killed"
        assert agent["output_tokens"] == out
        assert agent["cost_usd"] == pytest.approx(cost(40, out))
        assert summary["cost_usd"] >= agent["cost_usd"] > 0
        (history,) = await run.store.list_runs()
        assert history.output_tokens >= out
    assert Agent.streaming_now == before  # every reply that streamed was counted out again


async def test_an_interrupted_reply_is_billed_at_its_estimate_and_published_at_once(
    tmp_path: Path,
) -> None:
    async with stalled_mid_reply(tmp_path, 4) as (run, chars):
        run.session.steer(WORKER, "stop and report", interrupt=True)
        out = 1 + estimate_tokens(chars)
        # Published when the cut turn ends, before the next request is even sent.
        cut = await run.recorder.wait_for(
            lambda e: (
                isinstance(e, UsageUpdated)
                and e.agent_id == WORKER
                and e.output_tokens == out
                and e.estimated
            ),
            timeout_s=5,
        )
        assert isinstance(cut, UsageUpdated)
        await run.finish(timeout_s=15)
        record = run.session.supervisor.get(WORKER)
        # The cut reply plus the next one as the API reported it (12 output tokens).
        assert record.usage.output_tokens == out + 12
        final = usage_of(run)[-1]
        assert final.estimated  # the cut reply's share is an estimate for good
        assert final.output_tokens == out + 12


async def test_quitting_mid_reply_keeps_the_streamed_tokens_in_the_stored_cost(
    tmp_path: Path,
) -> None:
    before = Agent.streaming_now  # (other tests' loops may have left some)
    async with stalled_mid_reply(tmp_path, 6) as (run, chars):
        await run.session.close()  # what the app's quit does, agents still streaming
        out = 1 + estimate_tokens(chars)
        await run.store.flush()
        summary = await run.store.run_summary(run.session.run_id)
        (agent,) = [a for a in summary["agents"] if a["id"] == WORKER]
        assert agent["output_tokens"] == out
        assert agent["cost_usd"] == pytest.approx(cost(40, out))
        assert summary["usage"]["output_tokens"] >= out
        assert summary["cost_usd"] >= agent["cost_usd"]
    assert Agent.streaming_now == before


def test_many_streaming_agents_publish_their_estimates_less_often_each() -> None:
    assert live_usage_every(1) == live_usage_every(50) == LIVE_USAGE_EVERY_S
    assert live_usage_every(1000) == 5.0  # 200 publications a second over all of them
