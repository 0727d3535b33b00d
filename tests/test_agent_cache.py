"""Prompt caching for sub-agents: a multi-turn agent over the loopback simulator reads
each turn's prefix back from the cache once it is long enough to be cached."""

from __future__ import annotations

from bench.agent_turns import AgentRun, run_agent
from core.catalog import Catalog


def _reads_previous_prompt(run: AgentRun) -> None:
    """From the first turn that wrote the cache on, each turn reads the whole previous prompt."""
    first = next(t.turn for t in run.turns if t.cache_write_tokens)
    for prev, turn in zip(run.turns, run.turns[1:], strict=False):
        if turn.turn > first:
            assert turn.cache_read_tokens == prev.prompt_tokens, (prev, turn)
            assert turn.input_tokens == 0, turn


async def test_a_ten_turn_sub_agent_reads_most_of_its_input_from_the_cache() -> None:
    cached = await run_agent(turns=10, cache=True)
    uncached = await run_agent(turns=10, cache=False)
    assert len(cached.turns) == 10
    # Below the model's minimum nothing is cached (the simulator follows the API).
    minimum = Catalog().min_cache_tokens(cached.model)
    for t in cached.turns:
        if t.prompt_tokens < minimum:
            assert t.cache_write_tokens == t.cache_read_tokens == 0, t
    _reads_previous_prompt(cached)
    assert cached.cache_share(from_turn=2) > 0.70
    assert uncached.cache_share(from_turn=2) == 0
    assert cached.input_cost_usd < 0.5 * uncached.input_cost_usd


async def test_replies_with_many_parallel_calls_still_read_the_previous_turn() -> None:
    """12 parallel calls put 24 blocks between two turns' ends, past the API's ~20-block
    lookback; the breakpoint at the previous turn's end still finds its prefix."""
    run = await run_agent(turns=6, cache=True, calls=12, model="claude-sonnet-5-5")
    _reads_previous_prompt(run)
    assert run.cache_share(from_turn=2) > 0.5
