"""Headless scale: N agents streaming at once, the whole engine against the floor.

For each N, two fresh processes run the simulator's `load` scenario in-process (as
`delegate run --simulate` does), every agent streaming at `--tps` tokens/s for about
`--seconds` over a few turns with a tool call between them:

- `app`: the headless run as `delegate run --quiet` runs it (the CEO spawns the N agents
  in one reply; SDK client, agents, supervisor, bus, store);
- `floor`: the same simulator and the same conversations, each agent a minimal loop that
  calls the simulator directly (no HTTP, no SDK) and reads its frames with a bytes split
  and `json.loads`: what the simulator and any reader cost at the least.

Each reports, over the time all N agents stream: process CPU per wall second, stream
events per second (against the ideal: N x tps / tokens per event), event-loop lag p99,
RSS per agent (RSS growth from before the agents started, over N), and the agents'
wall time (first request to last reply) against the ideal (the simulator's pacing of
the same replies: latency plus tokens / tps per turn).

    python -m bench.scale                          # N = 10, 100, 500, 1000
    python -m bench.scale --agents 10,50 --seconds 10
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CpuMeter,
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

LATENCY_S = 0.05  # the load scenario's latency before each reply's first token
FLOOR_MODEL = "claude-haiku-5-5"


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


# --- the floor ----------------------------------------------------------------------------


async def floor_agent(sim: Any, index: int, meter: Meter) -> None:
    """One agent of the load scenario: requests straight to the simulator, frames read
    with a bytes split and `json.loads`, the tool call answered at once."""
    from core.simulator.http import Request

    agent = f"floor-{index + 1}"
    task = (
        f"Load task {index + 1}: stream a long status report on area {index + 1} "
        "and list the workspace between sections."
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    tools = [
        {"name": "list_files", "description": "List files.", "input_schema": {"type": "object"}}
    ]
    headers = {"x-api-key": "floor", "content-type": "application/json"}
    loads = json.loads
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
        response = await sim.handle(
            Request("POST", "/v1/messages", headers, json.dumps(body).encode())
        )
        assert response.stream is not None, response.body
        blocks: list[dict[str, Any]] = []
        texts: list[str] = []
        tool_json: list[str] = []
        stop = None
        buffer = b""
        async for chunk in response.stream:
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n\n", start)) >= 0:
                frame = buffer[start:end]
                start = end + 2
                nl = frame.find(b"\n")
                if frame[7:nl] == b"ping":
                    continue
                data = loads(frame[nl + 7 :])
                kind = data["type"]
                if kind == "content_block_delta":
                    delta = data["delta"]
                    if delta["type"] == "text_delta":
                        texts.append(delta["text"])
                        meter.delta(agent, delta["text"])
                    elif delta["type"] == "input_json_delta":
                        tool_json.append(delta["partial_json"])
                elif kind == "content_block_start":
                    blocks.append(data["content_block"])
                elif kind == "message_delta":
                    stop = data["delta"]["stop_reason"]
            buffer = buffer[start:]
        content: list[dict[str, Any]] = []
        for block in blocks:
            if block["type"] == "text":
                content.append({"type": "text", "text": "".join(texts)})
            elif block["type"] == "tool_use":
                raw = "".join(tool_json)
                content.append({**block, "input": json.loads(raw) if raw else {}})
        messages.append({"role": "assistant", "content": content})
        if stop != "tool_use":
            meter.done(agent)
            return
        results = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": "README.md"}
            for b in content
            if b["type"] == "tool_use"
        ]
        messages.append({"role": "user", "content": results})


async def run_floor(agents: int, tps: float, seconds: float) -> dict[str, Any]:
    from core.simulator import Simulator
    from core.simulator.scenarios.load import LoadScenario

    sim = Simulator(LoadScenario(agents, tps, seconds), tokens_per_s=400, latency_s=0.15)
    meter = Meter(agents)
    probe = LagProbe()
    probe.start()
    rss0 = rss_mb()
    cpu = CpuMeter().start()
    await asyncio.gather(*(floor_agent(sim, i, meter) for i in range(agents)))
    used = cpu.stop()
    return _result(meter, probe, used, rss0, agents, tps)


# --- the app ------------------------------------------------------------------------------


async def run_app(agents: int, tps: float, seconds: float) -> dict[str, Any]:
    from core.config import Settings
    from core.events import CEO_ID, AgentFinished, Event, TextDelta, TurnStarted
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
            ceo_max_tokens=max(16384, agents * 200),
            budget_usd=1e9,
            assume_yes=True,
        )
        store = await Store.open(Path(tmp) / "runs.db")
        session = Session(settings, interactive=False)
        session.bus.subscribe(store.append)
        meter = Meter(agents)
        started = asyncio.Event()
        finished = asyncio.Event()

        def observe(event: Event) -> None:
            agent = event.agent_id
            if agent is None or agent == CEO_ID:
                return
            if isinstance(event, TextDelta):
                meter.delta(agent, event.text)
            elif isinstance(event, TurnStarted):
                meter.turn(agent)
                if len(meter.first) >= agents:
                    started.set()
            elif isinstance(event, AgentFinished):
                meter.done(agent)
                if len(meter.last) >= agents:
                    finished.set()

        session.bus.subscribe(observe)
        probe = LagProbe()
        probe.start()
        rss0 = rss_mb()
        session.start("load")
        await asyncio.wait_for(started.wait(), 120 + agents * 0.2)
        probe.reset()
        cpu = CpuMeter().start()
        stalls = StallWatch(depth=16).start()
        # Measured while the agents work, as the floor is: the CEO's last turns after them
        # (a summary of N reports) are not the agents' cost.
        await asyncio.wait_for(finished.wait(), 600 + agents)
        used = cpu.stop()
        lags = probe.summary()
        stall_stacks = stalls.stop(top=5)
        await session.wait_finished()
        await session.close()
        await store.flush()
        await store.close()
        result = {**_result(meter, probe, used, rss0, agents, tps), **lags}
        result["store_events"] = store.stats.written_events
        result["stall_stacks"] = stall_stacks
        return result


def _result(
    meter: Meter, probe: LagProbe, used: dict[str, float], rss0: float, agents: int, tps: float
) -> dict[str, Any]:
    walls = meter.walls(tps)
    ratios = [w / i for w, i in walls if i > 0]
    per_event = meter.tokens / meter.deltas if meter.deltas else float("nan")
    return {
        **used,
        **probe.summary(),
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


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--agents", default="10,100,500,1000", help="comma-separated agent counts")
    p.add_argument("--tps", type=float, default=50.0, help="tokens/s per agent")
    p.add_argument("--seconds", type=float, default=20.0, help="streaming seconds per agent")
    p.add_argument("--modes", default="floor,app", help="floor, app")
    p.add_argument("--child-json", type=Path, help=_hidden())
    p.add_argument("--mode", help=_hidden())
    args = p.parse_args()
    if args.child_json:
        run = run_app if args.mode == "app" else run_floor
        result = asyncio.run(run(int(args.agents), args.tps, args.seconds))
        args.child_json.write_text(json.dumps(result))
        return
    runs: list[dict[str, Any]] = []
    load0 = os.getloadavg()
    for n in [int(a) for a in args.agents.split(",")]:
        for mode in args.modes.split(","):
            print(f"… {mode}, {n} agents", flush=True)
            child = ["--mode", mode, "--agents", str(n), "--tps", f"{args.tps:g}"]
            child += ["--seconds", f"{args.seconds:g}"]
            try:
                result = run_child("bench.scale", child, timeout=args.seconds * 10 + 300 + n)
            except Exception as exc:  # one failed size must not lose the others' results
                print(f"  {mode} at {n} agents failed: {exc}", flush=True)
                result = {"error": str(exc)}
            runs.append({"mode": mode, "agents": n, **result})
    load1 = os.getloadavg()
    report(runs, args.tps, load0, load1)
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


def _events(run: dict[str, Any], floor: dict[str, Any] | None) -> str:
    """Stream events/s with all N streaming, and the ideal: text tokens/s over the tokens
    an SSE delta carries (the floor's count: every delta it read; the app's bus may
    deliver several deltas as one event)."""
    per = (floor or run).get("tokens_per_event") or run["tokens_per_event"]
    if not per or per != per:
        return "-"
    return f"{run['steady_tokens_per_s'] / per:.0f} / {run['ideal_tokens_per_s'] / per:.0f}"


def _hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def report(runs: list[dict[str, Any]], tps: float, load0: Any, load1: Any) -> None:
    rows = []
    by = {(r["agents"], r["mode"]): r for r in runs}
    for r in runs:
        if "error" in r:
            rows.append([r["agents"], r["mode"], "failed", *["-"] * 8])
            continue
        floor = by.get((r["agents"], "floor"))
        vs = (
            f" ({r['cpu_share'] / floor['cpu_share']:.2f}x floor)"
            if floor and "error" not in floor and r is not floor and floor["cpu_share"]
            else ""
        )
        rows.append([
            r["agents"], r["mode"], f"{r['cpu_share']:.2f}{vs}",
            _events(r, floor),
            r["lag_p99_ms"], r["lag_max_ms"],
            r["rss_per_agent_kb"], r["peak_rss_mb"],
            f"{r['wall_median_s']} / {r['ideal_median_s']}",
            f"{r['wall_over_ideal_median']} / {r['wall_over_ideal_p99']}",
        ])  # fmt: skip
    header = [
        "agents", "run", "CPU s / wall s", "events/s / ideal", "lag p99 ms", "lag max ms",
        "RSS kB / agent", "peak RSS MB", "agent wall / ideal s (median)",
        "wall/ideal median / p99",
    ]  # fmt: skip
    print()
    print(
        table(
            f"Headless scale, {tps:g} tokens/s per agent (load average {load0[0]:.2f} -> "
            f"{load1[0]:.2f}; floor: the simulator read by a minimal loop)",
            header,
            rows,
        )
    )
    for r in runs:
        if r.get("stall_stacks"):
            print(f"\nWhere the loop was in stalls over 80 ms ({r['mode']}, {r['agents']} agents;")
            print("samples of 20 ms, top stacks, innermost first):")
            for n, where in r["stall_stacks"][:3]:
                print(f"  {n:4d}  {where}")
    print(
        "\ntargets at 1000 agents: loop lag p99 < 50 ms, agents' wall within 5% of ideal, "
        "RSS < 400 MB"
    )


if __name__ == "__main__":
    main()
