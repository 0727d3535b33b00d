"""The stream reader against the SDK's own: same events from the same bytes, same reply.

`core/llm_stream.py` replaces the SDK's SSE decoder and its stream helper's accumulator
on the hot path, so each is checked against the SDK's code (anthropic 2.12) on the same
input: byte streams cut at every position, with the line endings, comments and odd
frames the SSE format allows; and replies with every block kind the helper handles.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from typing import Any

import pytest
from anthropic._streaming import SSEDecoder
from anthropic.lib.streaming._messages import accumulate_event

from core.catalog import Usage
from core.llm_stream import Malformed, ReplyAccumulator, SSEFrames
from tests.fakeapi import Message, RedactedThinking, Text, Thinking, ToolUse, sse

MODEL = "claude-haiku-5-5"


def _ours(stream: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    frames = SSEFrames()
    out: list[tuple[str, str]] = []
    edges = [0, *cuts, len(stream)]
    for a, b in itertools.pairwise(edges):
        out += [("data", d) for d in frames.feed(stream[a:b])]
    out += [("data", d) for d in frames.end()]
    if frames.error is not None:
        out.append(("error", frames.error))
    return out


def _sdks(stream: bytes) -> list[tuple[str, str]]:
    """What the SDK's `AsyncStream` acts on: the data it parses, or the error it raises."""
    out: list[tuple[str, str]] = []
    for event in SSEDecoder().iter_bytes(iter([stream])):
        if event.event in (None, "ping"):
            continue
        if event.event == "error":
            out.append(("error", event.data))
            break
        if event.data:
            out.append(("data", event.data))
    return out


STREAMS = {
    "api-shaped": b"".join(
        f
        for f in Message([Text("hello there"), ToolUse("t", {"a": 1})]).frames(MODEL)
        if isinstance(f, bytes)
    ),
    "crlf": b'event: a\r\ndata: {"x":1}\r\n\r\nevent: b\r\ndata: {"y":2}\r\n\r\n',
    "cr-only": b'event: a\rdata: {"x":1}\r\revent: b\rdata: 2\r\r',
    "mixed-endings": b"event: a\ndata: 1\r\n\r\nevent: b\rdata: 2\n\n",
    "comments-id-retry": b': hi\nevent: a\nid: 7\nretry: 100\ndata: {"x":1}\n\n',
    "no-space": b'event:a\ndata:{"x":1}\n\n',
    "two-data-lines": b'event: a\ndata: {"x":\ndata: 1}\n\n',
    "no-event-line": b'data: {"x":1}\n\nevent: a\ndata: 2\n\n',
    "empty-event": b"event:\ndata: 1\n\nevent: a\ndata: 2\n\n",
    "no-data": b"event: a\n\nevent: b\ndata:\n\nevent: c\ndata: 3\n\n",
    "ping": b'event: ping\ndata: {"type":"ping"}\n\nevent: a\ndata: 1\n\n',
    "error": b'event: a\ndata: 1\n\nevent: error\ndata: {"type":"error"}\n\nevent: b\ndata: 2\n\n',
    "error-two-lines": b"event: error\ndata: x\ndata: y\n\n",
    "last-frame-unterminated": b"event: a\ndata: 1\n\nevent: b\ndata: 2\n",
    "many-blank-lines": b"\n\n\nevent: a\ndata: 1\n\n\n\n\nevent: b\ndata: 2\n\n",
    "event-after-data": b"data: 1\nevent: a\n\n",
    "utf8": 'event: a\ndata: {"t":"héllo ✓ 😀"}\n\n'.encode(),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_frames_match_the_sdks_decoder_cut_anywhere(name: str) -> None:
    stream = STREAMS[name]
    expected = _sdks(stream)
    assert _ours(stream, []) == expected
    for cut in range(1, len(stream)):
        assert _ours(stream, [cut]) == expected, cut
    rng = random.Random(name)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, 6)))
        assert _ours(stream, cuts) == expected, cuts


def _events(message: Message | list[bytes]) -> list[dict[str, Any]]:
    frames = message if isinstance(message, list) else message.frames(MODEL)
    stream = b"".join(f for f in frames if isinstance(f, bytes))
    return [json.loads(d) for d in SSEFrames().feed(stream)]


def _helper_reply(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """The content blocks as the stream helper accumulated them, dumped as the old reader
    sent them back (the fields the API sent, top-level nulls dropped)."""
    snapshot = None
    bufs: dict[int, bytes] = {}
    for event in copy.deepcopy(events):
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)  # type: ignore[arg-type]
    assert snapshot is not None
    blocks = []
    for block in snapshot.content:
        data = block.model_dump(mode="json", by_alias=True, exclude_unset=True)
        data.pop("parsed_output", None)
        out = {k: v for k, v in data.items() if v is not None}
        if out.get("type") in ("tool_use", "server_tool_use"):
            out["input"] = block.input  # type: ignore[union-attr]
        blocks.append(out)
    return blocks, snapshot.stop_reason


def _ours_reply(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    reply = ReplyAccumulator()
    for event in copy.deepcopy(events):
        reply.event(event)
    assert reply.started and reply.stopped
    return reply.content(), reply.stop_reason


CITATION = {
    "type": "char_location",
    "cited_text": "the sky is blue",
    "document_index": 0,
    "document_title": None,
    "start_char_index": 0,
    "end_char_index": 15,
}


def _custom(blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]], stop: str) -> list[bytes]:
    message = Message([], stop_reason=stop)
    out = [
        sse(
            "message_start",
            {"type": "message_start", "message": message.envelope(MODEL, [], False)},
        )
    ]
    for i, (start, deltas) in enumerate(blocks):
        out.append(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": start},
            )
        )
        for d in deltas:
            out.append(
                sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})
            )
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        )
    )
    out.append(sse("message_stop", {"type": "message_stop"}))
    return out


REPLIES: dict[str, Message | list[bytes]] = {
    "text": Message([Text("Hello there, operator. " * 20, pieces=17)]),
    "tools": Message(
        [
            Text("Let me look."),
            ToolUse("read_file", {"path": "src/app.py", "limit": None, "n": [1, 2.5, {"x": None}]}),
            ToolUse("run", {}),
            ToolUse("write", {"text": 'é ✓ \n"quoted"'}, pieces=9),
        ],
        stop_reason="tool_use",
    ),
    "inf-nan": Message(
        [ToolUse("t", {}, raw='{"a": 1e999, "b": NaN, "c": -5}')], stop_reason="tool_use"
    ),
    "cut-in-a-tool-call": Message(
        [
            Text("Writing."),
            ToolUse("write_file", {}, raw='{"path": "src/a.py", "content": "def f('),
        ],
        stop_reason="max_tokens",
    ),
    "thinking": Message(
        [
            Thinking("Plan: read then answer.", signature="sig-abc"),
            RedactedThinking("opaque"),
            Text("Answer."),
        ]
    ),
    "citations": _custom(
        [
            (
                {"type": "text", "text": "", "citations": None},
                [
                    {"type": "text_delta", "text": "The sky "},
                    {"type": "citations_delta", "citation": CITATION},
                    {"type": "text_delta", "text": "is blue."},
                    {"type": "citations_delta", "citation": {**CITATION, "start_char_index": 4}},
                ],
            )
        ],
        "end_turn",
    ),
    "server-tools": _custom(
        [
            (
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                [
                    {"type": "input_json_delta", "partial_json": '{"query": "py'},
                    {"type": "input_json_delta", "partial_json": 'thon 3.14"}'},
                ],
            ),
            (
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "url": "https://x.test",
                            "title": "X",
                            "encrypted_content": "e",
                            "page_age": None,
                        }
                    ],
                },
                [],
            ),
            ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Found it."}]),
        ],
        "end_turn",
    ),
    "mismatched-deltas": _custom(
        [
            (
                {"type": "text", "text": ""},
                [{"type": "thinking_delta", "thinking": "x"}, {"type": "text_delta", "text": "ok"}],
            ),
            (
                {"type": "thinking", "thinking": "", "signature": ""},
                [
                    {"type": "text_delta", "text": "y"},
                    {"type": "signature_delta", "signature": "s"},
                ],
            ),
            (
                {"type": "redacted_thinking", "data": "d"},
                [{"type": "input_json_delta", "partial_json": "{"}],
            ),
        ],
        "end_turn",
    ),
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_reply_matches_the_stream_helpers_accumulation(name: str) -> None:
    events = _events(REPLIES[name])
    ours, helpers = _ours_reply(events), _helper_reply(events)
    assert json.dumps(ours, sort_keys=True) == json.dumps(helpers, sort_keys=True)  # NaN too


def test_usage_counts_are_running_totals_replaced_not_added() -> None:
    message = Message(
        [Text("cached")],
        input_tokens=12,
        cache_creation_input_tokens=2000,
        cache_read_input_tokens=8000,
        start_output_tokens=3,
        output_totals=(10, 25),
        output_tokens=40,
    )
    reply = ReplyAccumulator()
    seen = [value for what, value in map(reply.event, _events(message)) if isinstance(value, Usage)]
    assert [u.output_tokens for u in seen] == [3, 10, 25, 40]
    assert reply.usage == Usage(
        input_tokens=12, output_tokens=40, cache_read_tokens=8000, cache_write_tokens=2000
    )


def test_events_before_message_start_or_a_bad_tool_input_are_malformed() -> None:
    with pytest.raises(Malformed, match='before "message_start"'):
        ReplyAccumulator().event({"type": "content_block_start", "index": 0, "content_block": {}})
    events = _events(Message([ToolUse("t", {}, raw='{"a" 1}')]))
    reply = ReplyAccumulator()
    with pytest.raises(Malformed, match="tool input is not JSON"):
        for event in events:
            reply.event(event)


def test_bytes_that_are_not_utf8_are_an_error_as_in_the_sdk() -> None:
    stream = b'event: a\ndata: {"t": "\xff"}\n\n'
    with pytest.raises(UnicodeDecodeError):
        list(SSEDecoder().iter_bytes(iter([stream])))
    with pytest.raises(UnicodeDecodeError):  # a ValueError: the try is "malformed"
        SSEFrames().feed(stream)
