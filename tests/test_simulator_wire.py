"""The simulator's SSE encoding: the fast text-delta frame is byte-for-byte `sse(...)`."""

from __future__ import annotations

import random

import pytest

from core.simulator import wire

TEXTS = ["", "plain", 'quote " and \\ backslash', "line\nbreak\ttab", "é ü 日本 🙂", "\x00\x1f"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("index", [0, 3, 12])
def test_text_delta_frame_matches_the_generic_encoder(text: str, index: int) -> None:
    delta = {"type": "text_delta", "text": text}
    expected = wire.sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )
    assert wire._delta_frame(index, delta) == expected


def test_split_text_is_lazy_and_loses_nothing() -> None:
    text = "The measurements so far are consistent with the earlier runs. " * 50
    pieces = wire.split_text(text, random.Random(3))
    first = next(pieces)
    rest = list(pieces)
    assert first + "".join(rest) == text
    assert all(1 <= len(p) <= 24 for p in [first, *rest])
