"""CPU per 1000 stream events: ways of reading the model stream, against the floor.

A server in a child process (so its CPU is not counted) streams replies of text deltas
shaped like the API's, over loopback HTTP/1.1 with chunked encoding: `burst` writes a
reply as fast as the socket takes it (many events per read), `paced` waits between
events (one event per read, as replies stream in use). In this process, one after the
other and repeated in rounds (the machine is shared), each reader reads the same
replies and its process CPU time is taken per 1000 events:

- `floor`: `bench.floor_reader`, a minimal asyncio HTTP/1.1 + SSE reader (one `read`
  per arrival, chunked decoding, a bytes split, `json.loads` per event): the least any
  reader can do;
- `sdk-helper`: the SDK's `messages.stream` helper (the path before this bench);
- `sdk-create`: `messages.create(stream=True)`, its events accumulated by hand;
- `sdk-lines`: the SDK's raw streaming response, `aiter_lines` and `json.loads`;
- `ours-anyio`: `ModelClient.stream_turn` on httpx2's default (anyio) network layer;
- `ours`: `ModelClient.stream_turn` as shipped (the SDK's raw response, our SSE split,
  httpcore2 on `core.net_backend`); the SDK readers above use this client too;
- `pipeline`: a real `Agent` turn through `ModelClient`, the event bus and the store.

    python -m bench.stream_read                    # 2000 events a reply, 3 rounds
    python -m bench.stream_read --events 1000 --rounds 1 --readers floor,ours
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import machine, table, write_json
from bench.floor_reader import post_sse, split_url

MODEL = "claude-haiku-5-5"
PACE_S = 0.001
READERS = ("floor", "sdk-helper", "sdk-create", "sdk-lines", "ours-anyio", "ours", "pipeline")
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "agents",
    "stream",
    "their",
    "replies",
]


# --- the server (child process) ---------------------------------------------------------


def reply_frames(deltas: int) -> list[bytes]:
    """An API-shaped reply: message_start, one text block of `deltas` deltas, the end."""
    from core.simulator import wire

    def frame(event: str, data: dict[str, Any]) -> bytes:
        return wire.sse(event, data)

    usage = wire.usage_json(40, 0, 0, deltas * 3)
    out = [
        frame(
            "message_start",
            {
                "type": "message_start",
                "message": wire.message_json(
                    "msg_bench", MODEL, [], None, dict(usage, output_tokens=1)
                ),
            },
        ),
        frame(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        frame("ping", {"type": "ping"}),
    ]
    for i in range(deltas):
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3)) + " "
        out.append(
            frame(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            )
        )
    out.append(frame("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(
        frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": deltas * 3},
            },
        )
    )
    out.append(frame("message_stop", {"type": "message_stop"}))
    return out


async def serve(port_file: Path) -> None:
    """Serve `/{burst|paced}/{deltas}/v1/messages` until stdin closes."""
    from core.simulator.http import HttpServer, Request, Response

    cache: dict[int, list[bytes]] = {}

    async def handle(request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        mode, deltas = parts[0], int(parts[1])
        frames = cache.get(deltas) or cache.setdefault(deltas, reply_frames(deltas))

        async def body() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame
                if mode == "paced":
                    await asyncio.sleep(PACE_S)

        from core.simulator.wire import SSE_HEADERS

        return Response(200, headers={**SSE_HEADERS, "request-id": "req_bench"}, stream=body())

    server = HttpServer(handle)
    await server.start()
    port_file.write_text(str(server.port))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.close()


# --- the readers -------------------------------------------------------------------------


class Counter:
    """Counts what a reader saw, so every reader is checked to have read every event."""

    def __init__(self) -> None:
        self.events = 0
        self.chars = 0


FLOOR_BODY = json.dumps(
    {"model": MODEL, "max_tokens": 1024, "stream": True, "messages": []}
).encode()


async def read_floor(base: str, counter: Counter) -> None:
    host, port, prefix = split_url(base)

    def on_event(data: dict[str, Any]) -> None:
        counter.events += 1
        if data["type"] == "content_block_delta":
            counter.chars += len(data["delta"]["text"])

    await post_sse(host, port, prefix + "/v1/messages", FLOOR_BODY, on_event)


def _params() -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": "go"}]}


async def read_sdk_helper(client: Any, counter: Counter) -> None:
    async with client.messages.stream(**_params()) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                counter.chars += len(event.delta.text)
            if event.type not in ("text",):  # the helper's own events are not the wire's
                counter.events += 1
        await stream.get_final_message()


async def read_sdk_create(client: Any, counter: Counter) -> None:
    stream = await client.messages.create(stream=True, **_params())
    texts: list[str] = []
    async for event in stream:
        counter.events += 1
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            texts.append(event.delta.text)
            counter.chars += len(event.delta.text)
    "".join(texts)


async def read_sdk_lines(client: Any, counter: Counter) -> None:
    async with client.messages.with_streaming_response.create(stream=True, **_params()) as resp:
        event = ""
        async for line in resp.http_response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event != "ping":
                data = json.loads(line[6:])
                counter.events += 1
                if data["type"] == "content_block_delta":
                    counter.chars += len(data["delta"]["text"])


class CountingSink:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def on_text(self, text: str) -> None:
        self.counter.chars += len(text)

    def on_thinking(self, text: str) -> None:
        pass

    def on_tool_use(self, tool_use_id: str, name: str) -> None:
        pass

    def on_tool_input(self, partial_json: str) -> None:
        pass

    def on_usage(self, usage: Any) -> None:
        pass

    def on_retry(self, try_number: int, delay_s: float, reason: str) -> None:
        raise RuntimeError(f"the bench's stream failed: {reason}")


async def read_ours(client: Any, counter: Counter) -> None:
    from core.llm import ModelClient, TurnRequest

    request = TurnRequest(
        model=MODEL, system="", messages=_params()["messages"], tools=[], max_tokens=1024
    )
    await ModelClient(client, retries=0).stream_turn(request, CountingSink(counter))


class Pipeline:
    """An Agent's turn with the app's chain behind it: redaction, the bus, the store."""

    def __init__(self, store: Any, workspace: Path) -> None:
        from core import redact
        from core.bus import EventBus

        self.store = store
        self.workspace = workspace
        self.bus = EventBus()
        self.bus.subscribe(store.append)
        self.redactor = redact.configure([])
        self.count = 0

    def emit(self, event: Any) -> None:
        self.bus.publish(self.redactor.event(event))

    async def turn(self, client: Any, counter: Counter) -> None:
        from core.agent import Agent
        from core.config import Settings
        from core.events import TextDelta
        from core.llm import ModelClient
        from core.tools.base import ToolContext

        async def allow(*_: str) -> tuple[bool, str]:
            return True, ""

        self.count += 1
        settings = Settings()

        def emit(event: Any) -> None:
            if isinstance(event, TextDelta):
                counter.chars += len(event.text)
            self.emit(event)

        agent = Agent(
            run_id="bench",
            agent_id=f"a{self.count}",
            role="research",
            model=MODEL,
            system="",
            tools={},
            ctx=ToolContext(workspace=self.workspace, agent_id=f"a{self.count}", authorize=allow),
            client=ModelClient(client, retries=0),
            catalog=settings.catalog,
            emit=emit,
            max_tokens=1024,
        )
        agent.start("go")
        await agent.run()


# --- measuring ----------------------------------------------------------------------------


async def measure(
    name: str, base: str, deltas: int, replies: int, pipeline: Pipeline | None
) -> dict[str, float]:
    """Read `replies` replies with reader `name`; CPU ms per 1000 events."""
    from core.llm import make_client

    counter = Counter()
    client = make_client("sk-ant-bench", base, max_retries=0)
    if name == "ours-anyio":
        import anthropic

        client = anthropic.AsyncAnthropic(api_key="sk-ant-bench", base_url=base, max_retries=0)
    readers: dict[str, Callable[[], Awaitable[None]]] = {
        "floor": lambda: read_floor(base, counter),
        "sdk-helper": lambda: read_sdk_helper(client, counter),
        "sdk-create": lambda: read_sdk_create(client, counter),
        "sdk-lines": lambda: read_sdk_lines(client, counter),
        "ours": lambda: read_ours(client, counter),
        "ours-anyio": lambda: read_ours(client, counter),
        "pipeline": lambda: pipeline.turn(client, counter) if pipeline else asyncio.sleep(0),
    }
    read = readers[name]
    await read()  # warm: imports, first connection, caches
    counter.chars = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(replies):
        await read()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if pipeline is not None and name == "pipeline":
        await pipeline.store.flush()
    await client.close()
    events = replies * (deltas + 5)  # + message_start, block start/stop, delta, stop
    expected_chars = replies * sum(
        len(" ".join(WORDS[(i + k) % len(WORDS)] for k in range(3))) + 1 for i in range(deltas)
    )
    if counter.chars != expected_chars:
        raise SystemExit(f"{name}: read {counter.chars} of {expected_chars} characters")
    return {"cpu_ms_per_1k": cpu * 1000 / events * 1000, "wall_s": wall}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        port_file = Path(tmp) / "port"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.stream_read", "--serve", str(port_file)],
            stdin=subprocess.PIPE,
            env=env,
        )
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text():
                    break
                await asyncio.sleep(0.05)
            port = int(port_file.read_text())
            store = await Store.open(Path(tmp) / "runs.db")
            pipeline = Pipeline(store, Path(tmp))
            results: dict[str, dict[str, list[float]]] = {}
            for round_no in range(args.rounds):
                for mode in ("burst", "paced"):
                    base = f"http://127.0.0.1:{port}/{mode}/{args.events}"
                    for name in args.readers:
                        r = await measure(name, base, args.events, args.replies, pipeline)
                        results.setdefault(name, {}).setdefault(mode, []).append(r["cpu_ms_per_1k"])
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
            await store.close()
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(10)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    p.add_argument("--events", type=int, default=2000, help="text deltas per reply")
    p.add_argument("--replies", type=int, default=2, help="replies per measurement")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every reader, both modes")
    p.add_argument(
        "--readers", default=",".join(READERS), help="comma-separated, of: " + ", ".join(READERS)
    )
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    args.readers = [r for r in args.readers.split(",") if r]
    if "floor" not in args.readers:
        args.readers.insert(0, "floor")
    unknown = set(args.readers) - set(READERS)
    if unknown:
        p.error(f"unknown readers: {', '.join(sorted(unknown))}")
    load0 = os.getloadavg()
    results = asyncio.run(run(args))
    load1 = os.getloadavg()
    rows = []
    for name in args.readers:
        row: list[Any] = [name]
        for mode in ("burst", "paced"):
            values = results[name][mode]
            floor = statistics.median(results["floor"][mode])
            med = statistics.median(values)
            row += [f"{min(values):.1f} / {med:.1f} / {max(values):.1f}", f"{med / floor:.2f}x"]
        rows.append(row)
    header = [
        "reader",
        "burst: min / median / max ms",
        "vs floor",
        "paced: min / median / max ms",
        "vs floor",
    ]
    print(
        table(
            f"CPU ms per 1000 stream events ({args.events} deltas a reply, {args.replies} replies, "
            f"{args.rounds} rounds; load average {load0[0]:.2f} -> {load1[0]:.2f})",
            header,
            rows,
        )
    )
    write_json(args.json, {"machine": machine(), "load": [load0, load1], "results": results})


if __name__ == "__main__":
    main()
