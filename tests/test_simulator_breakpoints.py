"""The request check counts cache markers without serialising: same count as the cache sees."""

from __future__ import annotations

import random
from typing import Any

from core.simulator.cache import breakpoint_count, segments


def _block(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return "not a block"
    block: dict[str, Any] = {"type": "text", "text": "x" * rng.randint(0, 20)}
    roll = rng.random()
    if roll < 0.3:
        block["cache_control"] = {"type": "ephemeral"}
    elif roll < 0.35:
        block["cache_control"] = "malformed"
    return block


def _body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m"}
    if rng.random() < 0.5:
        body["tools"] = [_block(rng) for _ in range(rng.randint(0, 3))]
    roll = rng.random()
    if roll < 0.3:
        body["system"] = "be brief"
    elif roll < 0.6:
        body["system"] = [_block(rng) for _ in range(rng.randint(0, 3))]
    body["messages"] = [
        {
            "role": rng.choice(["user", "assistant"]),
            "content": [_block(rng) for _ in range(rng.randint(0, 3))]
            if rng.random() < 0.7
            else "plain text",
        }
        for _ in range(rng.randint(0, 4))
    ]
    if rng.random() < 0.3:
        body["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    return body


def test_breakpoint_count_matches_the_cache_segments() -> None:
    rng = random.Random(5)
    seen = set()
    for _ in range(2000):
        body = _body(rng)
        expected = sum(1 for s in segments(body) if s.ttl is not None)
        assert breakpoint_count(body) == expected, body
        seen.add(expected)
    assert len(seen) > 4  # the bodies cover many counts, not just 0


def test_top_level_marker_counts_once_on_the_last_block() -> None:
    marked = {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}
    body = {"model": "m", "messages": [{"role": "user", "content": [marked]}]}
    assert breakpoint_count(body) == 1
    assert breakpoint_count({**body, "cache_control": {"type": "ephemeral"}}) == 1
    plain = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert breakpoint_count({**plain, "cache_control": {"type": "ephemeral"}}) == 1
    assert breakpoint_count({"model": "m", "messages": [], "cache_control": {}}) == 0
