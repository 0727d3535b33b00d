"""Orchestration through the real CLI: `delegate run` against a loopback Messages-API server.

The bench process serves the fan-out scenario (bench.orchestration's `FanOut`, on the
simulator's loopback HTTP server: the Messages API's SSE exactly) and runs
`python -m tui.cli run TASK --max-concurrent C` as a child pointed at it
(`ANTHROPIC_BASE_URL`, a placeholder key): the CEO spawns N agents at once, each agent
replies after 1 s and is done, the CEO answers. The wall is the whole process, from
spawning it to its exit.

The floor, measured in the same run against the same server: a child that starts
Python, imports the SDK, makes one request (answered at once) and exits. The ideal is
that floor, plus ceil(N / C) waves of 1 s, plus each further CEO turn at the floor's
own request time (the CEO's turns are answered at once too). Efficiency = ideal / wall.

    python -m bench.orchestration --via cli [--repeat 3]      # 20 agents, cap 20 and cap 5

The split of the wall, from the server's side: start-up (spawn to the first request),
the turns (first request to the last reply sent) and the tail (the last reply to exit).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ms, table, write_json
from bench.orchestration import REPLY_S, FanOut
from core.catalog import DEFAULT_MODELS
from core.simulator import Simulator, serve
from core.simulator.http import HttpServer, Request, Response
from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation

AGENTS = 20
CAPS = (20, 5)
FLOOR_TASK = "bench floor: one request"
ROOT = Path(__file__).resolve().parent.parent
TASK = "Fan out to the agents"

# The floor: Python, the SDK imported, one request to the same server (a streamed
# reply, read to its end, as a run reads its CEO's), then exit at once (no final
# collection: the least any program can do). It prints its request's own time so the
# CEO's further turns can be priced at it.
FLOOR_CODE = """
import os, sys, time
import anthropic
client = anthropic.Anthropic(base_url=sys.argv[1], api_key="bench-placeholder", max_retries=0)
t0 = time.perf_counter()
for event in client.messages.create(
    model=sys.argv[2], max_tokens=64, stream=True,
    messages=[{"role": "user", "content": sys.argv[3]}],
):
    pass
print(time.perf_counter() - t0, flush=True)
os._exit(0)
"""


@dataclass
class Served:
    """One request the server answered: when it came, who sent it, when its reply ended."""

    at: float
    ceo: bool
    floor: bool
    ended: float = 0.0


@dataclass
class Log:
    requests: list[Served] = field(default_factory=list)

    def clear(self) -> None:
        self.requests.clear()


class LoggedSimulator(Simulator):
    """The simulator, noting each request's arrival and the moment its reply is all sent."""

    def __init__(self, log: Log, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log = log

    async def handle(self, request: Request) -> Response:
        at = time.perf_counter()
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        conv = Conversation(body if isinstance(body, dict) else {})
        served = Served(at, conv.is_ceo, conv.task == FLOOR_TASK)
        if request.path.startswith("/v1/messages/count_tokens"):
            return await super().handle(request)
        self.log.requests.append(served)
        response = await super().handle(request)
        if response.stream is None:
            served.ended = time.perf_counter()
        else:
            response.stream = _noting_end(response.stream, served)
        return response


async def _noting_end(stream: AsyncIterator[bytes], served: Served) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        served.ended = time.perf_counter()


class FanOutWithFloor(FanOut):
    """bench.orchestration's scenario, with the floor's request answered at once."""

    def worker(self, conv: Conversation) -> Reply:
        if conv.task == FLOOR_TASK:
            reply = Reply().text("ok")
            reply.latency_s = 0.0
            return reply
        return super().worker(conv)


def child_env(base_url: str, pycache: Path) -> dict[str, str]:
    """The children's environment: the server's URL, a placeholder key, and compiled
    modules cached (in `pycache`) as for an installed program, even where this shell
    says PYTHONDONTWRITEBYTECODE: compiling the project's sources at every start would
    be timed as the run's start-up."""
    skip = ("ANTHROPIC_", "DELEGATE_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONPYCACHEPREFIX=str(pycache),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="bench-placeholder",
    )
    return env


@dataclass
class Child:
    started: float  # perf_counter() just before the spawn
    exited: float  # and once it has exited
    code: int
    out: bytes
    err: str
    cpu_s: float  # its user + system CPU (children run one at a time)

    @property
    def wall(self) -> float:
        return self.exited - self.started


async def _child(cmd: list[str], env: dict[str, str], cwd: Path) -> Child:
    """Spawn `cmd` and wait for its exit (its output read all along)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    code = await proc.wait()
    t1 = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Child(t0, t1, code, out, err.decode(errors="replace"), cpu)


class Bench:
    """The loopback server and the children run against it, one at a time."""

    def __init__(self, server: HttpServer, log: Log, tmp: Path) -> None:
        self.server = server
        self.log = log
        self.tmp = tmp
        self.env = child_env(server.base_url, tmp / "pycache")
        self.model = sorted(DEFAULT_MODELS)[0]
        self.runs = 0

    async def floor(self) -> dict[str, float]:
        self.log.clear()
        cmd = [sys.executable, "-c", FLOOR_CODE, self.server.base_url, self.model, FLOOR_TASK]
        child = await _child(cmd, self.env, ROOT)
        if child.code != 0 or not self.log.requests:
            raise RuntimeError(f"the floor failed ({child.code}): {child.err[-400:]}")
        return {
            "wall_s": child.wall,
            "request_s": float(child.out.decode().split()[-1]),
            "startup_s": self.log.requests[0].at - child.started,
            "cpu_s": child.cpu_s,
        }

    def cli_command(self, cap: int) -> list[str]:
        self.runs += 1
        ws = self.tmp / f"ws{self.runs}"
        ws.mkdir()
        return [
            sys.executable, "-m", "tui.cli", "run", TASK, "--quiet", "--json",
            "--workspace", str(ws), "--db", str(self.tmp / f"runs{self.runs}.db"),
            "--config", str(self.tmp / "config.toml"), "--max-concurrent", str(cap),
        ]  # fmt: skip

    async def cli_run(self, agents: int, cap: int, fl: dict[str, float]) -> dict[str, Any]:
        """One `delegate run` at `cap`, against the floor `fl` measured just before."""
        self.log.clear()
        child = await _child(self.cli_command(cap), self.env, ROOT)
        try:
            summary = json.loads(child.out)
        except ValueError:
            raise RuntimeError(
                f"delegate run printed no summary ({child.code}): {child.err[-600:]}"
            ) from None
        done = sum(a.get("status") == "done" for a in summary["agents"] if a["id"] != "ceo")
        if done != agents:
            raise RuntimeError(f"{done} of {agents} agents done: {child.err[-600:]}")
        reqs = self.log.requests
        ceo_turns = sum(r.ceo for r in reqs)
        waves = math.ceil(agents / cap)
        ideal = fl["wall_s"] + waves * REPLY_S + (ceo_turns - 1) * fl["request_s"]
        first = min(r.at for r in reqs)
        last = max(r.ended for r in reqs)
        return {
            "agents": agents,
            "cap": cap,
            "exit_code": child.code,
            "status": summary["status"],
            "done": done,
            "ceo_turns": ceo_turns,
            "requests": len(reqs),
            "wall_s": round(child.wall, 3),
            "ideal_s": round(ideal, 3),
            "efficiency": round(ideal / child.wall, 3),
            "startup_s": round(first - child.started, 3),
            "turns_s": round(last - first, 3),
            # The turns beyond the waves and the CEO's turns at the floor's request time.
            "turns_over_s": round(last - first - waves * REPLY_S - ceo_turns * fl["request_s"], 3),
            "tail_s": round(child.exited - last, 3),
            "cpu_s": round(child.cpu_s, 3),
            "floor_s": round(fl["wall_s"], 3),
            "floor_request_s": round(fl["request_s"], 4),
            "floor_startup_s": round(fl["startup_s"], 3),
            "floor_cpu_s": round(fl["cpu_s"], 3),
        }


async def run_cases(
    repeat: int, agents: int = AGENTS, caps: tuple[int, ...] = CAPS
) -> dict[str, Any]:
    """`repeat` rounds of (floor, run) for each cap, after one untimed warm-up of each
    (modules compiled into the cache, files in the page cache)."""
    results: dict[str, Any] = {"rounds": [], "load_avg_before": os.getloadavg()}
    log = Log()
    sim = LoggedSimulator(log, FanOutWithFloor(agents), tokens_per_s=1e6, latency_s=REPLY_S)
    server = await serve(sim)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-orch-cli-") as tmp_name:
            bench = Bench(server, log, Path(tmp_name))
            (bench.tmp / "config.toml").write_text("")
            await bench.cli_run(agents, max(caps), await bench.floor())
            for _ in range(repeat):
                for cap in caps:
                    results["rounds"].append(await bench.cli_run(agents, cap, await bench.floor()))
    finally:
        await server.close()
    results["load_avg_after"] = os.getloadavg()
    return results


def summarize(results: dict[str, Any], caps: tuple[int, ...] = CAPS) -> list[list[Any]]:
    rows = []
    for cap in caps:
        runs = [r for r in results["rounds"] if r["cap"] == cap]
        agents = runs[0]["agents"]
        eff = sorted(r["efficiency"] for r in runs)
        med = sorted(runs, key=lambda r: r["efficiency"])[len(runs) // 2]
        rows.append([
            agents, cap, f"{statistics.median(r['floor_s'] for r in runs):.3f}",
            med["ideal_s"], med["wall_s"], f"{eff[0]:.3f}", f"{statistics.median(eff):.3f}",
            f"{eff[-1]:.3f}", ms(med["startup_s"] - med["floor_startup_s"]),
            ms(med["turns_over_s"]), ms(med["tail_s"]), f"{med['floor_cpu_s']:.2f}",
            f"{med['cpu_s']:.2f}", med["ceo_turns"],
        ])  # fmt: skip
    return rows


def main_cli(repeat: int, json_path: Path | None) -> None:
    results = asyncio.run(run_cases(repeat))
    header = [
        "agents", "cap", "floor s", "ideal s", "wall s", "eff min", "eff med", "eff max",
        "start-up over floor ms", "turns over ms", "tail ms", "floor CPU s", "run CPU s",
        "CEO turns",
    ]  # fmt: skip
    load = results["load_avg_before"]
    title = (
        f"delegate run over loopback, 1 s per agent reply, {repeat} rounds "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
    )
    print(table(title, header, summarize(results)))
    print(
        "\nefficiency = ideal / wall; ideal = floor (python + import anthropic + one reply)"
        " + waves x 1 s + further CEO turns at the floor's request time; target >= 0.95"
    )
    write_json(json_path, {"benchmark": "orchestration-cli", **results})
