"""The simulator's prompt cache finds a prefix written by the previous turn, like the API."""

from __future__ import annotations

from typing import Any

from core.simulator.cache import PromptCache


def body(turns: int) -> dict[str, Any]:
    """A conversation after `turns` user messages; the cache marker on its last block."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        if i:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": "a " * 50}]})
        messages.append({"role": "user", "content": [{"type": "text", "text": f"q{i} " * 200}]})
    messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return {"model": "m", "system": "s", "messages": messages}


def test_a_moved_marker_reads_the_previous_turns_prefix() -> None:
    cache = PromptCache(min_tokens=10)
    first = cache.bill(body(1))
    assert first.cache_read == 0 and first.cache_write > 0
    second = cache.bill(body(2))
    assert second.cache_read == first.cache_write  # the whole first prompt, found by lookback
    assert second.input_tokens == 0 and second.cache_write > 0
