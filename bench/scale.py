"""Headless scale: N agents streaming at once, the whole engine against the floor.

For each N, the simulator's `load` scenario streams every agent at `--tps` tokens/s for
about `--seconds`, over a few turns with a tool call between them. Where the simulator
runs is `--server`:

- `http` (the default): in a process of its own, serving the Messages API over loopback
  HTTP (`core.simulator.serve`), as an outside server would be for a user with a key; a
  fresh server for every measured run. The bench samples its CPU (`/proc`) over the
  measured window: near 1.0 s per wall s it is saturated, and the run measures the
  server's limit, not the reader's (the table says so);
- `inprocess`: in the measured process, as `delegate run --simulate` runs it (the
  process's one core then carries the model server too).

For each N and server, two fresh processes are measured:

- `app`: the headless run. With `http`, `delegate run TASK --quiet` itself
  (`tui.cli.main` in the bench's child, with ANTHROPIC_BASE_URL and a placeholder key, as
  bench.orchestration_cli runs it; the SDK talks HTTP to the server), the bench adding
  only a bus subscriber that counts and a loop-lag probe. With `inprocess`, the session
  built as `delegate run --simulate` builds it. Either way the CEO spawns the N agents in
  one reply (SDK client, agents, supervisor, bus, store);
- `floor`: the same conversations, each agent a minimal loop that answers its tool call at
  once: with `http`, reading the server over real HTTP with `bench.floor_reader` (a socket
  per request, chunked decoding, a bytes split, `json.loads`); with `inprocess`, calling
  the simulator directly (no HTTP, no SDK) and splitting its frames the same way. What
  the server and any reader cost at the least.

Each reports, over the time all N agents stream: the measured process's CPU per wall
second, and per second of the agents' ideal wall (the cores it needs to keep the ideal
pace, however starved the run was); how long its event loop's thread waited for a core,
per wall second (on a machine shared with other work: above a few hundredths the run is
starved, and its lag and wall are the machine's); stream events per second (against the
ideal: N x tps / tokens per event); its event-loop lag p99; RSS per agent (RSS growth
from before the agents started, over N); the agents' wall time (first request to last
reply) against the ideal (the simulator's pacing of the same replies: latency plus
tokens / tps per turn); the app's full garbage collections; and with `http` the server
process's CPU per wall second over the same window.

    python -m bench.scale                          # N = 10, 100, 500, 1000, over HTTP
    python -m bench.scale --agents 10,50 --seconds 10
    python -m bench.scale --agents 1000 --server http,inprocess
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    CpuMeter,
    GcMeter,
    LagProbe,
    StallWatch,
    parser,
    peak_rss_mb,
    percentile,
    rss_mb,
    run_child,
    table,
    write_json,
)
from bench.floor_reader import OnEvent, emit_frames, post_sse, split_url

LATENCY_S = 0.05  # the load scenario's latency before each reply's first token
FLOOR_MODEL = "claude-haiku-5-5"
SERVERS = ("http", "inprocess")
MODES = ("floor", "app")
SATURATED = 0.9  # server CPU s per wall s from which the server, not the reader, is the limit
TASK = "load"
HEADERS = {"x-api-key": "bench-placeholder", "anthropic-version": "2023-06-01"}


def _ideal(tokens_per_turn: list[int], tps: float) -> float:
    """The simulator's pacing of these replies: latency, then tokens at `tps`, per turn."""
    return sum(LATENCY_S + tokens / tps for tokens in tokens_per_turn)


class Meter:
    """Stream text and agents' timings, as they happen."""

    def __init__(self, agents: int) -> None:
        self.agents = agents
        self.deltas = 0  # text deltas seen
        self.tokens = 0  # their output tokens, as the simulator paces them ((chars + 3) // 4)
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.turn_tokens: dict[str, list[int]] = {}
        # (time, tokens) when the last agent started and when the first one finished:
        # the stretch with all N streaming, where throughput is read against N x tps.
        self.steady: list[tuple[float, int]] = []

    def delta(self, agent: str, text: str) -> None:
        tokens = (len(text) + 3) // 4
        self.deltas += 1
        self.tokens += tokens
        self.turn_tokens[agent][-1] += tokens

    def turn(self, agent: str) -> None:
        if agent not in self.first:
            self.first[agent] = time.perf_counter()
            if len(self.first) == self.agents:
                self.steady.append((self.first[agent], self.tokens))
        self.turn_tokens.setdefault(agent, []).append(0)

    def done(self, agent: str) -> None:
        self.last[agent] = time.perf_counter()
        if len(self.steady) == 1:
            self.steady.append((self.last[agent], self.tokens))

    def steady_tokens_per_s(self) -> float:
        if len(self.steady) < 2 or self.steady[1][0] <= self.steady[0][0]:
            return float("nan")
        (t0, n0), (t1, n1) = self.steady
        return (n1 - n0) / (t1 - t0)

    def walls(self, tps: float) -> list[tuple[float, float]]:
        """(measured, ideal) seconds per finished agent."""
        return [
            (self.last[a] - self.first[a], _ideal(self.turn_tokens[a], tps))
            for a in self.last
            if a in self.first
        ]


def runq_wait_s() -> float | None:
    """Seconds the calling thread has waited, ready to run, for a core (/proc schedstat)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class LoopCpuMeter(CpuMeter):
    """`CpuMeter`, plus how long the event loop's thread (the caller) waited for a core
    meanwhile: on a shared machine, a loop that lags while it waits is starved by the
    machine's other work, not slow."""

    def start(self) -> LoopCpuMeter:
        self.wait0 = runq_wait_s()
        super().start()
        return self

    def stop(self) -> dict[str, float]:
        used = super().stop()
        wait1 = runq_wait_s()
        if self.wait0 is not None and wait1 is not None and used["wall_s"] > 0:
            used["loop_runq_share"] = round((wait1 - self.wait0) / used["wall_s"], 3)
        return used


# --- the floor ----------------------------------------------------------------------------

# One request of a floor agent: POST this body, hand each SSE event's data to the callback.
Post = Callable[[bytes, OnEvent], Awaitable[None]]


class FloorTurn:
    """One streamed reply as a floor agent reads it: text counted as it comes, the
    assistant's content blocks assembled (text joined, tool input parsed)."""

    def __init__(self, agent: str, meter: Meter) -> None:
        self.agent = agent
        self.meter = meter
        self.blocks: list[dict[str, Any]] = []
        self.texts: list[str] = []
        self.tool_json: list[str] = []
        self.stop: str | None = None

    def on_event(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                self.texts.append(delta["text"])
                self.meter.delta(self.agent, delta["text"])
            elif delta["type"] == "input_json_delta":
                self.tool_json.append(delta["partial_json"])
        elif kind == "content_block_start":
            self.blocks.append(data["content_block"])
        elif kind == "message_delta":
            self.stop = data["delta"]["stop_reason"]

    def content(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for block in self.blocks:
            if block["type"] == "text":
                out.append({"type": "text", "text": "".join(self.texts)})
            elif block["type"] == "tool_use":
                raw = "".join(self.tool_json)
                out.append({**block, "input": json.loads(raw) if raw else {}})
        return out


def floor_task(index: int) -> str:
    """The load scenario's task for agent `index` (0-based), as its CEO words it."""
    return (
        f"Load task {index + 1}: stream a long status report on area {index + 1} "
        "and list the workspace between sections."
    )


async def floor_agent(post: Post, index: int, meter: Meter) -> None:
    """One agent of the load scenario: each turn one request through `post`, the tool call
    answered at once with a fixed listing, until a reply ends without one."""
    agent = f"floor-{index + 1}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": floor_task(index)}]
    tools = [
        {"name": "list_files", "description": "List files.", "input_schema": {"type": "object"}}
    ]
    while True:
        body = {
            "model": FLOOR_MODEL,
            "max_tokens": 8192,
            "stream": True,
            "system": "You are a worker.",
            "tools": tools,
            "messages": messages,
        }
        meter.turn(agent)
        turn = FloorTurn(agent, meter)
        await post(json.dumps(body).encode(), turn.on_event)
        content = turn.content()
        messages.append({"role": "assistant", "content": content})
        if turn.stop != "tool_use":
            meter.done(agent)
            return
        results = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": "README.md"}
            for b in content
            if b["type"] == "tool_use"
        ]
        messages.append({"role": "user", "content": results})


def _simulator(agents: int, tps: float, seconds: float) -> Any:
    from core.simulator import Simulator
    from core.simulator.scenarios.load import LoadScenario

    return Simulator(LoadScenario(agents, tps, seconds), tokens_per_s=400, latency_s=0.15)


def inprocess_post(sim: Any) -> Post:
    """Requests straight to the simulator (no HTTP), its frames split as the floor reader
    splits them."""
    from core.simulator.http import Request

    headers = {**HEADERS, "content-type": "application/json"}
    loads = json.loads

    async def post(body: bytes, on_event: OnEvent) -> None:
        response = await sim.handle(Request("POST", "/v1/messages", headers, body))
        assert response.stream is not None, response.body
        buffer = b""
        async for chunk in response.stream:
            buffer = emit_frames(buffer + chunk, on_event, loads)

    return post


def http_post(base_url: str) -> Post:
    """Requests over loopback HTTP with the floor reader: one connection per request."""
    host, port, prefix = split_url(base_url)
    path = prefix + "/v1/messages"

    async def post(body: bytes, on_event: OnEvent) -> None:
        await post_sse(host, port, path, body, on_event, HEADERS)

    return post


async def run_floor(
    agents: int, tps: float, seconds: float, base_url: str | None
) -> dict[str, Any]:
    post = http_post(base_url) if base_url else inprocess_post(_simulator(agents, tps, seconds))
    meter = Meter(agents)
    probe = LagProbe()
    probe.start()
    rss0 = rss_mb()
    t0 = time.monotonic()
    cpu = LoopCpuMeter().start()
    await asyncio.gather(*(floor_agent(post, i, meter) for i in range(agents)))
    used = cpu.stop()
    return {
        **_result(meter, probe.summary(), used, rss0, agents, tps),
        "window": [t0, time.monotonic()],
    }


# --- the app ------------------------------------------------------------------------------


class AppWatch:
    """A bus subscriber that meters a headless run: the loop lag, CPU and stalls from the
    moment all N agents have started to the moment all N have finished (not the CEO's
    turns before and after them), and the garbage collector's pauses meanwhile."""

    def __init__(self, agents: int) -> None:
        self.agents = agents
        self.meter = Meter(agents)
        self.probe = LagProbe()
        self.finished = asyncio.Event()
        self.rss0 = 0.0
        self.window = [0.0, 0.0]
        self.used: dict[str, float] = {}
        self.lags: dict[str, float] = {}
        self.stall_stacks: list[tuple[int, str]] = []
        self.gc: dict[str, float] = {}
        self._cpu: LoopCpuMeter | None = None
        self._stalls: StallWatch | None = None
        self._gc = GcMeter()

    def attach(self, bus: Any) -> None:
        """Subscribe to `bus` and start the probe (on the running loop), before the run."""
        bus.subscribe(self.observe)
        self.probe.start()
        self.rss0 = rss_mb()

    def observe(self, event: Any) -> None:
        from core.events import CEO_ID, AgentFinished, TextDelta, TurnStarted

        agent = event.agent_id
        if agent is None or agent == CEO_ID:
            return
        meter = self.meter
        if isinstance(event, TextDelta):
            meter.delta(agent, event.text)
        elif isinstance(event, TurnStarted):
            meter.turn(agent)
            if len(meter.first) == self.agents and self._cpu is None:
                self.probe.reset()
                self.window[0] = time.monotonic()
                self._cpu = LoopCpuMeter().start()
                self._stalls = StallWatch(depth=16).start()
                self._gc.start()
        elif isinstance(event, AgentFinished):
            meter.done(agent)
            if len(meter.last) == self.agents and self._cpu is not None and not self.used:
                self.used = self._cpu.stop()
                self.window[1] = time.monotonic()
                self.lags = self.probe.summary()
                assert self._stalls is not None
                self.stall_stacks = self._stalls.stop(top=5)
                self.gc = self._gc.stop()
                self.finished.set()

    def result(self, tps: float) -> dict[str, Any]:
        if not self.used:
            raise RuntimeError(
                f"the run ended with {len(self.meter.first)} of {self.agents} agents started "
                f"and {len(self.meter.last)} finished"
            )
        return {
            **_result(self.meter, self.lags, self.used, self.rss0, self.agents, tps),
            **self.gc,
            "window": self.window,
            "stall_stacks": self.stall_stacks,
        }


async def run_app_inprocess(agents: int, tps: float, seconds: float) -> dict[str, Any]:
    from core.config import Settings
    from core.session import Session
    from core.store import Store
    from tui.launch import tune_gc

    tune_gc()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        (ws / "README.md").write_text("# workspace\n")
        settings = Settings().with_overrides(
            simulate=True,
            scenario=f"load:agents={agents},tps={tps:g},seconds={seconds:g}",
            workspace=ws,
            max_concurrent=agents,
            max_agents=agents,
            ceo_max_tokens=_ceo_max_tokens(agents),
            budget_usd=1e9,
            assume_yes=True,
        )
        store = await Store.open(Path(tmp) / "runs.db")
        session = Session(settings, interactive=False)
        session.bus.subscribe(store.append)
        watch = AppWatch(agents)
        watch.attach(session.bus)
        session.start(TASK)
        # Measured while the agents work, as the floor is: the CEO's last turns after them
        # (a summary of N reports) are not the agents' cost.
        await asyncio.wait_for(watch.finished.wait(), 720 + agents * 1.2)
        await session.wait_finished()
        await session.close()
        await store.flush()
        await store.close()
        result = watch.result(tps)
        result["store_events"] = store.stats.written_events
        return result


def _ceo_max_tokens(agents: int) -> int:
    """Room for the CEO's one spawn reply of N calls (about 60 tokens each)."""
    return max(16384, agents * 200)


def run_config(agents: int) -> str:
    """The config of the measured `delegate run`: N agents at once, room for the CEO's
    spawn reply, no budget (the placeholder key's spend is not the point)."""
    return (
        f"[ceo]\nmax_tokens = {_ceo_max_tokens(agents)}\n\n"
        f'[limits]\nmax_agents = {agents}\nmax_concurrent = {agents}\nbudget_usd = "none"\n'
    )


@contextlib.contextmanager
def watching_sessions(watch: AppWatch) -> Iterator[None]:
    """Every session `core.session_life.open_session` opens meanwhile is watched by `watch`
    (subscribed before it starts); nothing else of the run changes."""
    import core.session_life as life

    real = life.open_session

    @contextlib.asynccontextmanager
    async def watched(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with real(*args, **kwargs) as session:
            watch.attach(session.bus)
            yield session

    life.open_session = watched
    try:
        yield
    finally:
        life.open_session = real


def run_app_http(agents: int, tps: float) -> dict[str, Any]:
    """`delegate run TASK --quiet` against the server in the environment's
    ANTHROPIC_BASE_URL, watched from its bus."""
    from tui.cli import main as delegate

    watch = AppWatch(agents)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        (ws / "README.md").write_text("# workspace\n")
        config = Path(tmp) / "config.toml"
        config.write_text(run_config(agents))
        argv = ["run", TASK, "--quiet", "--json", "--workspace", str(ws)]
        argv += ["--db", str(Path(tmp) / "runs.db"), "--config", str(config)]
        out = io.StringIO()
        with watching_sessions(watch), contextlib.redirect_stdout(out):
            code = delegate(argv)
    check_summary(out.getvalue(), code, agents)
    return watch.result(tps)


def check_summary(out: str, code: int, agents: int) -> None:
    """`delegate run --json`'s output: a summary with every agent done (the load run ends
    unverified, exit 1: it has nothing to check), else why not, in one line."""
    try:
        summary = json.loads(out)
    except ValueError:
        tail = out[-300:]
        raise RuntimeError(f"delegate run exited {code} without a summary: {tail!r}") from None
    done = sum(a.get("status") == "done" for a in summary["agents"] if a["id"] != "ceo")
    if code not in (0, 1) or summary.get("status") == "failed" or done != agents:
        others = [a for a in summary["agents"] if a["id"] != "ceo" and a.get("status") != "done"]
        why = f"{done} of {agents} agents done"
        if others:
            first = others[0]
            why += f"; {first['id']} {first.get('status')}: {str(first.get('result'))[:200]}"
        raise RuntimeError(f"delegate run exited {code} ({summary.get('status')}): {why}")


def _result(
    meter: Meter,
    lags: dict[str, float],
    used: dict[str, float],
    rss0: float,
    agents: int,
    tps: float,
) -> dict[str, Any]:
    walls = meter.walls(tps)
    ratios = [w / i for w, i in walls if i > 0]
    per_event = meter.tokens / meter.deltas if meter.deltas else float("nan")
    return {
        **used,
        **lags,
        "agents_finished": len(walls),
        "tokens_per_event": round(per_event, 2),
        "steady_tokens_per_s": round(meter.steady_tokens_per_s()),
        "ideal_tokens_per_s": round(agents * tps),
        "rss_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_per_agent_kb": round((rss_mb() - rss0) * 1000 / agents, 1),
        "wall_median_s": round(statistics.median(w for w, _ in walls), 2) if walls else None,
        "ideal_median_s": round(statistics.median(i for _, i in walls), 2) if walls else None,
        "wall_over_ideal_median": round(statistics.median(ratios), 3) if ratios else None,
        "wall_over_ideal_p99": round(percentile(ratios, 99), 3) if ratios else None,
    }


# --- the server (its own process) ---------------------------------------------------------


async def serve_load(port_file: Path, agents: int, tps: float, seconds: float) -> None:
    """Serve the load scenario on a loopback port (written to `port_file`) until stdin
    closes."""
    from core.simulator import serve

    server = await serve(_simulator(agents, tps, seconds))
    port_file.write_text(str(server.port))
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.close()


def proc_cpu_s(stat: str) -> float:
    """User + system CPU seconds from the text of `/proc/PID/stat`."""
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(samples: list[tuple[float, float]], t0: float, t1: float) -> float | None:
    """CPU seconds per wall second between `t0` and `t1`, from (time, CPU seconds) samples
    in time order, read linearly between samples; None when they do not span the window."""
    if t1 <= t0 or len(samples) < 2 or samples[0][0] > t0 or samples[-1][0] < t1:
        return None

    def at(t: float) -> float:
        for (ta, ca), (tb, cb) in itertools.pairwise(samples):
            if ta <= t <= tb:
                return ca if tb == ta else ca + (cb - ca) * (t - ta) / (tb - ta)
        raise AssertionError("unreachable: the window is inside the samples")

    return (at(t1) - at(t0)) / (t1 - t0)


class ServerProcess:
    """The load scenario served by a child process, its CPU sampled from `/proc` meanwhile."""

    def __init__(self, agents: int, tps: float, seconds: float, env: dict[str, str]) -> None:
        self.args = ["--agents", str(agents), "--tps", f"{tps:g}", "--seconds", f"{seconds:g}"]
        self.env = env
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def __enter__(self) -> ServerProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-scale-server-")
        port_file = Path(self._tmp.name) / "port"
        cmd = [sys.executable, "-m", "bench.scale", "--serve", str(port_file), *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=self.env)
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the load server did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{int(port_file.read_text())}"
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while self._read() and not self._stop.wait(0.1):
            pass

    def _read(self) -> bool:
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                self.samples.append((time.monotonic(), proc_cpu_s(f.read())))
        except (OSError, ValueError, IndexError):
            return False
        return True

    def cpu_share(self, window: list[float]) -> float | None:
        """The server's CPU per wall second over `window` (monotonic times, ended)."""
        self._stop.set()
        self._sampler.join()
        self._read()  # the window's end is past: a sample now brackets it
        return cpu_share(self.samples, window[0], window[1])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._tmp.cleanup()


# --- the parent ---------------------------------------------------------------------------


def _list(p: argparse.ArgumentParser, text: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    items = [x for x in (t.strip() for t in text.split(",")) if x]
    unknown = [x for x in items if x not in allowed]
    if unknown or not items:
        p.error(f"{flag}: expected some of {', '.join(allowed)}, got {text!r}")
    return items


def measure(server: str, mode: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One measured child (and, over HTTP, its own fresh server)."""
    from bench.orchestration_cli import child_env

    child = ["--mode", mode, "--server", server, "--agents", str(n), "--tps", f"{args.tps:g}"]
    child += ["--seconds", f"{args.seconds:g}"]
    timeout = args.seconds * 10 + 300 + n
    if server == "inprocess":
        return run_child("bench.scale", child, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        env = child_env("http://placeholder.invalid", Path(tmp) / "pycache")
        with ServerProcess(n, args.tps, args.seconds, env) as proc:
            env["ANTHROPIC_BASE_URL"] = proc.base_url
            child += ["--base-url", proc.base_url]
            result = run_child("bench.scale", child, timeout=timeout, env=env)
            result["server_cpu_share"] = proc.cpu_share(result["window"])
    return result


def main() -> None:
    p = parser(__doc__ or "")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--agents", default="10,100,500,1000", help="comma-separated agent counts")
    p.add_argument("--tps", type=float, default=50.0, help="tokens/s per agent")
    p.add_argument("--seconds", type=float, default=20.0, help="streaming seconds per agent")
    p.add_argument("--modes", default="floor,app", help="comma-separated, of: floor, app")
    p.add_argument(
        "--server",
        default="http",
        help="where the simulator runs, comma-separated: http (its own process, loopback "
        "HTTP; the default), inprocess (in the measured process, as --simulate)",
    )
    p.add_argument("--child-json", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        asyncio.run(serve_load(args.serve, int(args.agents), args.tps, args.seconds))
        return
    if args.child_json:
        args.child_json.write_text(json.dumps(child_run(args)))
        return
    servers = _list(p, args.server, SERVERS, "--server")
    modes = _list(p, args.modes, MODES, "--modes")
    try:
        sizes = [int(a) for a in args.agents.split(",")]
    except ValueError:
        p.error(f"--agents: expected comma-separated counts, got {args.agents!r}")
    runs: list[dict[str, Any]] = []
    load0 = os.getloadavg()
    for n in sizes:
        for server in servers:
            for mode in modes:
                print(f"… {mode}, {n} agents, server {server}", flush=True)
                try:
                    result = measure(server, mode, n, args)
                except Exception as exc:  # one failed size must not lose the others' results
                    print(f"  {mode} at {n} agents failed: {exc}", flush=True)
                    result = {"error": str(exc)}
                runs.append({"mode": mode, "server": server, "agents": n, **result})
    load1 = os.getloadavg()
    print()
    print(report(runs, args.tps, load0, load1))
    write_json(
        args.json,
        {
            "benchmark": "scale",
            "tps": args.tps,
            "seconds": args.seconds,
            "load": [load0, load1],
            "runs": runs,
        },
    )


def child_run(args: argparse.Namespace) -> dict[str, Any]:
    n = int(args.agents)
    if args.mode == "floor":
        return asyncio.run(run_floor(n, args.tps, args.seconds, args.base_url))
    if args.server == "inprocess":
        return asyncio.run(run_app_inprocess(n, args.tps, args.seconds))
    return run_app_http(n, args.tps)


def _events(run: dict[str, Any], floor: dict[str, Any] | None) -> str:
    """Stream events/s with all N streaming, and the ideal: text tokens/s over the tokens
    an SSE delta carries (the floor's count: every delta it read; the app's bus may
    deliver several deltas as one event)."""
    per = (floor or run).get("tokens_per_event") or run["tokens_per_event"]
    if not per or per != per:
        return "-"
    return f"{run['steady_tokens_per_s'] / per:.0f} / {run['ideal_tokens_per_s'] / per:.0f}"


def _pace_cpu(run: dict[str, Any]) -> str:
    """The window's CPU seconds over the agents' ideal wall: the cores the run needs to keep
    the ideal pace (above 1.0 one core cannot), whatever else the machine was doing."""
    ideal = run.get("ideal_median_s")
    return f"{run['cpu_s'] / ideal:.2f}" if ideal else "-"


def _server_cpu(run: dict[str, Any]) -> str:
    share = run.get("server_cpu_share")
    if run.get("server") == "inprocess":
        return "(in process)"
    if share is None:
        return "-"
    return f"{share:.2f}" + (" SATURATED" if share >= SATURATED else "")


def report(runs: list[dict[str, Any]], tps: float, load0: Any, load1: Any) -> str:
    """The table of `runs`, a note on any saturated server, the stall stacks."""
    rows = []
    by = {(r["agents"], r.get("server", "inprocess"), r["mode"]): r for r in runs}
    for r in runs:
        server = r.get("server", "inprocess")
        if "error" in r:
            rows.append([r["agents"], server, r["mode"], "failed", *["-"] * 11])
            continue
        floor = by.get((r["agents"], server, "floor"))
        vs = (
            f" ({r['cpu_share'] / floor['cpu_share']:.2f}x floor)"
            if floor and "error" not in floor and r is not floor and floor["cpu_share"]
            else ""
        )
        rows.append([
            r["agents"], server, r["mode"], f"{r['cpu_share']:.2f}{vs}", _pace_cpu(r),
            r.get("loop_runq_share", "-"), _server_cpu(r),
            _events(r, floor),
            r["lag_p99_ms"], r["lag_max_ms"],
            r["rss_per_agent_kb"], r["peak_rss_mb"],
            f"{r['wall_median_s']} / {r['ideal_median_s']}",
            f"{r['wall_over_ideal_median']} / {r['wall_over_ideal_p99']}",
            f"{r['gc_full']} / {r['gc_full_max_ms']}" if "gc_full" in r else "-",
        ])  # fmt: skip
    header = [
        "agents", "server", "run", "CPU s / wall s", "CPU s / ideal s",
        "loop waiting for a core s / wall s",
        "server CPU s / wall s",
        "events/s / ideal", "lag p99 ms", "lag max ms", "RSS kB / agent", "peak RSS MB",
        "agent wall / ideal s (median)", "wall/ideal median / p99", "full GCs / max ms",
    ]  # fmt: skip
    lines = [
        table(
            f"Headless scale, {tps:g} tokens/s per agent (load average {load0[0]:.2f} -> "
            f"{load1[0]:.2f}; floor: the same server read by a minimal loop)",
            header,
            rows,
        )
    ]
    for r in runs:
        share = r.get("server_cpu_share")
        if share is not None and share >= SATURATED:
            lines.append(
                f"\nThe server was saturated in the {r['mode']} run at {r['agents']} agents "
                f"({share:.2f} CPU s per wall s): its pace there is the server's limit, "
                "not the reader's."
            )
    for r in runs:
        if r.get("stall_stacks"):
            lines.append(
                f"\nWhere the loop was in stalls over 80 ms ({r['mode']}, {r['agents']} agents, "
                f"server {r.get('server', 'inprocess')};\nsamples of 20 ms, top stacks, "
                "innermost first):"
            )
            for n, where in r["stall_stacks"][:3]:
                lines.append(f"  {n:4d}  {where}")
    lines.append(
        "\ntargets at 1000 agents: loop lag p99 < 50 ms, agents' wall within 5% of ideal, "
        "RSS < 400 MB"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
