"""The simulator: a Messages-API-compatible model server driven by a scenario.

`Simulator.handle` takes a `core.simulator.http.Request` and returns a `Response`, so it
serves both the loopback HTTP server and the in-process httpx2 transport. Replies are
paced like a real model: `latency_s` before the first token, then `tokens_per_s`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from core.catalog import DEFAULT_MODELS, Catalog
from core.simulator import wire
from core.simulator.cache import PromptCache, count_tokens
from core.simulator.faults import HTTP_FAULTS, STREAM_FAULTS
from core.simulator.http import DropConnection, Request, Response
from core.simulator.reply import Reply, Text, Thinking, ToolCall
from core.simulator.scenarios import load_scenario
from core.simulator.scenarios.base import Conversation, Scenario
from core.simulator.validate import ApiError, check_auth, check_body, sign

EAGER_FRAMES = 256


class Simulator:
    """`await Simulator("default").handle(request)`; see `core.simulator.scenarios`."""

    def __init__(
        self,
        scenario: str | Path | Scenario = "default",
        tokens_per_s: float = 400.0,
        latency_s: float = 0.15,
        seed: int | None = None,
        *,
        extra_models: Iterable[str] = (),
        min_cache_tokens: int | Callable[[str], int] | None = None,  # None: per model
        cache_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tokens_per_s <= 0 or latency_s < 0:
            raise ValueError("tokens_per_s must be positive and latency_s not negative")
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.tokens_per_s = tokens_per_s
        self.latency_s = latency_s
        self.models = set(DEFAULT_MODELS) | set(extra_models)
        minimum = Catalog().min_cache_tokens if min_cache_tokens is None else min_cache_tokens
        self.cache = PromptCache(minimum, cache_entries, clock)
        self.rng = random.Random(seed)
        self.requests = 0  # POST /v1/messages received
        self.faults_injected: list[tuple[int, str]] = []  # (request number, fault kind)

    async def handle(self, request: Request) -> Response:
        request_id = wire.new_id("req_", self.rng)
        try:
            return await self._route(request, request_id)
        except ApiError as err:
            return self._error(err, request_id)

    def _error(self, err: ApiError, request_id: str) -> Response:
        headers = dict(wire.JSON_HEADERS, **{"request-id": request_id}, **dict(err.headers))
        return Response(err.status, headers, wire.error_body(err.kind, err.message, request_id))

    def _json(self, data: dict[str, Any], request_id: str) -> Response:
        headers = dict(wire.JSON_HEADERS, **{"request-id": request_id})
        return Response(200, headers, json.dumps(data).encode())

    async def _route(self, request: Request, request_id: str) -> Response:
        path = request.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            raise ApiError(404, "not_found_error", f"Not found: {request.method} {path}")
        if request.method != "POST":
            raise ApiError(405, "invalid_request_error", f"Method {request.method} not allowed")
        problem = check_auth(request.headers)
        if problem is not None:
            raise problem
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            raise ApiError(
                400, "invalid_request_error", "There was an error parsing the body"
            ) from None
        if path.endswith("count_tokens"):
            check_body(body, self.models, count_only=True)
            return self._json({"input_tokens": count_tokens(body)}, request_id)
        self.requests += 1
        number = self.requests
        fault = self.scenario.fault(number)
        if fault in HTTP_FAULTS:
            self.faults_injected.append((number, fault))
            status, kind, message, headers = HTTP_FAULTS[fault]
            raise ApiError(status, kind, message, tuple(headers.items()))
        check_body(body, self.models)
        try:
            reply = self.scenario.reply(Conversation(body))
        except ApiError:
            raise
        except Exception as exc:  # a scenario bug must answer, not hang the caller
            raise ApiError(500, "api_error", f"simulator scenario error: {exc!r}") from exc
        content, stop_reason = self._content(reply, body)
        billing = self.cache.bill(body)
        out_tokens = sum(wire.block_tokens(b) for b in content)
        usage = wire.usage_json(
            billing.input_tokens, billing.cache_write, billing.cache_read, out_tokens, billing.ttl
        )
        msg_id = wire.new_id("msg_", self.rng)
        tps = reply.tokens_per_s or self.tokens_per_s
        latency = self.latency_s if reply.latency_s is None else reply.latency_s
        if not body.get("stream"):
            await asyncio.sleep(latency + out_tokens / tps)
            return self._json(
                wire.message_json(msg_id, body["model"], content, stop_reason, usage), request_id
            )
        if fault in STREAM_FAULTS:
            self.faults_injected.append((number, fault))
        # A long reply's frames are made as they are sent: building them all up front (a
        # JSON dump per delta) made 100 agents that end their turns together stall the
        # loop for a second. The first EAGER_FRAMES are built now, so a short reply costs
        # nothing while it streams. Each stream gets its own generator, seeded here, so
        # the pieces stay deterministic whatever order concurrent streams are drawn in.
        rng = random.Random(self.rng.random())
        events = wire.stream_events(msg_id, body["model"], content, stop_reason, usage, rng)
        frames: Iterable[tuple[bytes, int]]
        cut = -1
        if fault in ("stream_error", "drop"):
            frames = list(events)  # these faults cut the stream halfway: it needs the length
            cut = len(frames) // 2
        else:
            frames = itertools.chain(list(itertools.islice(events, EAGER_FRAMES)), events)
        headers = dict(wire.SSE_HEADERS, **{"request-id": request_id})
        return Response(200, headers, stream=self._paced(frames, tps, latency, fault, cut))

    def _content(self, reply: Reply, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The reply as API content blocks: ids given, thinking added, cut at max_tokens."""
        blocks: list[dict[str, Any]] = []
        thinking = body.get("thinking")
        wants_thinking = isinstance(thinking, dict) and thinking.get("type") in (
            "enabled",
            "adaptive",
        )
        if wants_thinking and not any(isinstance(b, Thinking) for b in reply.blocks):
            blocks.append(self._thinking(_thought(reply), thinking))
        for block in reply.blocks:
            if isinstance(block, Text):
                blocks.append({"type": "text", "text": block.text})
            elif isinstance(block, Thinking):
                if wants_thinking:
                    blocks.append(self._thinking(block.thinking, thinking))
            elif isinstance(block, ToolCall):
                tool_id = wire.new_id("toolu_", self.rng)
                blocks.append(
                    {"type": "tool_use", "id": tool_id, "name": block.name, "input": block.input}
                )
        stop_reason = reply.final_stop_reason
        budget = int(body["max_tokens"])
        kept: list[dict[str, Any]] = []
        for item in blocks:
            cost = wire.block_tokens(item)
            if cost <= budget:
                kept.append(item)
                budget -= cost
                continue
            stop_reason = "max_tokens"
            if item["type"] == "text" and budget > 0:
                kept.append({"type": "text", "text": item["text"][: budget * 4]})
            break
        if not kept:
            kept.append({"type": "text", "text": ""})
        return kept, stop_reason

    def _thinking(self, text: str, config: Any) -> dict[str, Any]:
        if isinstance(config, dict) and config.get("display") == "omitted":
            text = ""
        return {"type": "thinking", "thinking": text, "signature": sign(text)}

    async def _paced(
        self,
        frames: Iterable[tuple[bytes, int]],
        tps: float,
        latency: float,
        fault: str | None,
        cut: int = -1,
    ) -> AsyncIterator[bytes]:
        """Send `frames` at `tps`; a stream_error or drop fault strikes at frame `cut`.

        Frames that carry no tokens (message_start, a block's start and stop, pings, the
        end) go out with the frame after them when the pace puts no wait between them: one
        chunk instead of several, the same bytes at the same moments (before a wait,
        what is held goes out first)."""
        await asyncio.sleep(latency)
        loop = asyncio.get_running_loop()
        start = loop.time()
        emitted = 0
        held: list[bytes] = []  # frames without tokens, not sent yet
        for index, (frame, tokens) in enumerate(frames):
            if fault is not None:
                if index == cut and fault == "stream_error":
                    error = wire.sse("error", wire.error_payload("overloaded_error", "Overloaded"))
                    yield b"".join([*held, error])
                    return
                if index == cut and fault == "drop":
                    if held:
                        yield b"".join(held)
                    raise DropConnection()
                if fault == "truncate" and frame.startswith(b"event: message_delta"):
                    if held:
                        yield b"".join(held)
                    return
            if not tokens:
                held.append(frame)
                continue
            emitted += tokens
            delay = start + emitted / tps - loop.time()
            if delay > 0.002:
                if held:
                    yield b"".join(held)
                    held = []
                await asyncio.sleep(delay)
            if held:
                held.append(frame)
                frame = b"".join(held)
                held = []
            yield frame
        if held:
            yield b"".join(held)


def _thought(reply: Reply) -> str:
    calls = reply.calls
    if calls:
        names = ", ".join(dict.fromkeys(c.name for c in calls))
        return f"Deciding the next step: {names}, based on what the conversation shows so far."
    return "Everything needed is in the conversation; time to answer."
