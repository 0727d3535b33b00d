"""Reading one streamed reply: SSE frames off the SDK's raw response, accumulated into blocks.

`core/llm.py` sends the request through the SDK's client (auth, headers, HTTP retries and
status errors all stay the SDK's) and reads the body itself. The SDK's own readers build
objects per event that nothing here uses: pydantic models for each SSE event and, in the
`messages.stream` helper, a snapshot and helper events after every delta; those were most
of the event loop's time at hundreds of streaming agents. Here a frame is a `bytes` split,
one `json.loads`, and a few dict lookups.

What the SDK's stream does and this keeps (checked against anthropic 2.12's
`_streaming.py` and `lib/streaming/_messages.py`):
- a frame without an `event:` line is dropped, `ping` is skipped, a frame with no data
  is skipped, and a last frame without its blank line is lost;
- `event: error` raises the SDK's `APIStatusError` for it (status 200, `.type` from the
  body), made by the client exactly as its own stream makes it;
- content blocks are appended as `content_block_start` sends them and changed by the
  deltas of their `index`; text, thinking, signatures and citations as the helper does;
- tool input (`input_json_delta` pieces) is parsed once whole with jiter in partial mode,
  as the helper parses it (a reply cut at `max_tokens` keeps a partial input);
- usage counts are running totals: each one replaces, a missing one keeps its value.
"""

from __future__ import annotations

from typing import Any, Final

from jiter import from_json

from core.catalog import Usage

__all__ = [
    "TEXT_DELTA",
    "THINKING_DELTA",
    "TOOL_INPUT",
    "TOOL_START",
    "USAGE",
    "Malformed",
    "ReplyAccumulator",
    "SSEFrames",
    "merge_usage",
]

# What an event means for the sink (`ReplyAccumulator.event` returns one of these).
NOTHING: Final = 0
TEXT_DELTA: Final = 1
THINKING_DELTA: Final = 2
TOOL_INPUT: Final = 3
TOOL_START: Final = 4
USAGE: Final = 5

_TRACKS_INPUT = frozenset({"tool_use", "server_tool_use"})  # as the SDK's helper


class Malformed(ValueError):
    """The stream cannot be read as a reply (events out of order, missing fields)."""


class SSEFrames:
    """Splits a byte stream into the `data` of its dispatchable SSE events.

    Lines may end in `\\n`, `\\r\\n` or `\\r`, as the SDK's decoder accepts; fields are
    `event`, `data` (several join with newlines), and the ignored `id`/`retry`/comments.
    An `event: error` ends the stream: its data is `error`, and nothing after it is read.
    """

    __slots__ = ("_buffer", "error")

    def __init__(self) -> None:
        self._buffer = b""
        self.error: str | None = None

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event completed by `chunk`, in order, up to an error event.

        The completed part is decoded once (UTF-8, strictly, as the SDK does) and split
        as text: `json.loads` of a `str` skips the encoding sniffing it does for bytes.
        """
        if self.error is not None:
            return []
        if self._buffer:
            chunk = self._buffer + chunk
        if b"\r" in chunk:
            chunk, held = _normalise(chunk)
        else:
            held = b""
        cut = chunk.rfind(b"\n\n")
        if cut < 0:
            self._buffer = chunk + held
            return []
        self._buffer = chunk[cut + 2 :] + held
        out: list[str] = []
        for frame in chunk[:cut].decode().split("\n\n"):
            # The shape every API frame has: one event line, one data line.
            nl = frame.find("\n")
            if (
                nl > 7
                and frame.startswith("event: ")
                and frame.startswith("data: ", nl + 1)
                and frame.find("\n", nl + 1) < 0
            ):
                name: str | None = frame[7:nl]
                data = frame[nl + 7 :]
            else:
                name, data = _fields(frame)
            if not name or name == "ping":
                continue
            if name == "error":
                self.error = data
                self._buffer = b""
                return out
            if data:
                out.append(data)
        return out

    def end(self) -> list[str]:
        """The body ended: a line end held back (a final `\\r`) ends its line after all."""
        return self.feed(b"\n") if self._buffer.endswith(b"\r") else []


def _normalise(chunk: bytes) -> tuple[bytes, bytes]:
    """`\\r\\n` and lone `\\r` as `\\n`; a final `\\r` is held back (a `\\n` may follow)."""
    held = b""
    if chunk.endswith(b"\r"):
        chunk, held = chunk[:-1], b"\r"
    return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), held


def _fields(frame: str) -> tuple[str | None, str]:
    """The event name and data of one frame in the general form."""
    event: str | None = None
    data: list[str] = []
    for line in frame.split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    return event, "\n".join(data)


class ReplyAccumulator:
    """The reply as its events arrive: content blocks as received, usage, stop reason.

    `event(data)` takes one parsed event and returns `(what, value)` for the sink: the
    text of a text or thinking delta, a tool input piece, `(id, name)` of a tool call
    that starts, the running usage, or `(NOTHING, None)`. A broken event raises
    `Malformed` (or the `KeyError`/`TypeError` of a missing or mistyped field).
    """

    __slots__ = ("blocks", "pieces", "started", "stop_reason", "stopped", "usage")

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []
        # Text, thinking or tool-input pieces per block index, joined once at the end
        # (adding each delta to a string would copy the text so far every time).
        self.pieces: dict[int, list[str]] = {}
        self.started = False
        self.stopped = False
        self.stop_reason: str | None = None
        self.usage = Usage()

    def event(self, data: Any) -> tuple[int, Any]:
        kind = data["type"]
        if kind == "content_block_delta":
            delta = data["delta"]
            dtype = delta["type"]
            if dtype == "text_delta":
                text = delta["text"]
                index = data["index"]
                pieces = self.pieces.get(index)
                if pieces is None:
                    pieces = self._piece(index, "text")
                pieces.append(text)
                return TEXT_DELTA, text
            if dtype == "input_json_delta":
                piece = delta["partial_json"]
                self._piece(data["index"], _TRACKS_INPUT).append(piece)
                return TOOL_INPUT, piece
            if dtype == "thinking_delta":
                text = delta["thinking"]
                self._piece(data["index"], "thinking").append(text)
                return THINKING_DELTA, text
            if dtype == "signature_delta":
                block = self.blocks[data["index"]]
                if block.get("type") == "thinking":
                    block["signature"] = delta["signature"]
            elif dtype == "citations_delta":
                block = self.blocks[data["index"]]
                if block.get("type") == "text":
                    if block.get("citations"):
                        block["citations"].append(delta["citation"])
                    else:
                        block["citations"] = [delta["citation"]]
            return NOTHING, None
        if not self.started:
            if kind != "message_start":
                raise Malformed(f'unexpected event order, got {kind} before "message_start"')
            self.started = True
            message = data["message"]
            self.blocks = list(message.get("content") or [])
            self.usage = merge_usage(message.get("usage") or {}, Usage(), replace_input=True)
            return USAGE, self.usage
        if kind == "content_block_start":
            block = data["content_block"]
            self.blocks.append(block)
            if block.get("type") == "tool_use":
                return TOOL_START, (block["id"], block["name"])
        elif kind == "content_block_stop":
            self._finish(data["index"])
        elif kind == "message_delta":
            self.stop_reason = data["delta"].get("stop_reason")
            self.usage = merge_usage(data.get("usage") or {}, self.usage, replace_input=False)
            return USAGE, self.usage
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "message_start":
            raise Malformed("a second message_start in one stream")
        return NOTHING, None

    def _piece(self, index: int, kind: str | frozenset[str]) -> list[str]:
        """The piece list of block `index`, a new list (not kept) when its type differs
        (the helper ignores a delta that does not fit its block)."""
        pieces = self.pieces.get(index)
        if pieces is not None:
            return pieces
        btype = self.blocks[index].get("type")
        if btype == kind or (isinstance(kind, frozenset) and btype in kind):
            pieces = self.pieces[index] = []
            return pieces
        return []

    def _finish(self, index: int) -> None:
        pieces = self.pieces.pop(index, None)
        if pieces is None:
            return
        block = self.blocks[index]
        btype = block["type"]
        if btype == "text":
            block["text"] = block.get("text", "") + "".join(pieces)
        elif btype == "thinking":
            block["thinking"] = block.get("thinking", "") + "".join(pieces)
        else:
            raw = "".join(pieces).encode()
            if raw:
                try:
                    block["input"] = from_json(raw, partial_mode=True)
                except ValueError as exc:
                    raise Malformed(f"tool input is not JSON: {exc}") from exc

    def content(self) -> list[dict[str, Any]]:
        """The reply's blocks as request params, as received: top-level nulls dropped."""
        for index in list(self.pieces):
            self._finish(index)
        return [{k: v for k, v in b.items() if v is not None} for b in self.blocks]


def merge_usage(raw: dict[str, Any], current: Usage, *, replace_input: bool) -> Usage:
    """Merge a usage record into `current`: every count is a running total, so replace.

    `message_delta` usage may omit the input counts (or send null): those keep their
    values; `message_start` (`replace_input`) starts them from 0.
    """

    def pick(name: str, old: int) -> int:
        value = raw.get(name)
        if value is None:
            return 0 if replace_input and name != "output_tokens" else old
        return int(value)

    return Usage(
        input_tokens=pick("input_tokens", current.input_tokens),
        output_tokens=pick("output_tokens", current.output_tokens),
        cache_read_tokens=pick("cache_read_input_tokens", current.cache_read_tokens),
        cache_write_tokens=pick("cache_creation_input_tokens", current.cache_write_tokens),
    )
