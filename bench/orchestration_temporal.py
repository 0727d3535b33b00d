"""`python -m bench.orchestration --runner temporal`: the same fan-out on Temporal.

In one run: 20 agents with 1 s replies at cap 20 and cap 5 on the local runner and on
the Temporal runner with 1 and 2 `delegate worker` processes (efficiency = ideal /
wall, and its ratio to the local runner's), spawn -> first request, steer delivery
after the turn it waited for, and kill latency. A dev server is started for the run;
the workers reach the simulator over loopback (the session's CEO in process).

Beside each Temporal case, right after it on the same server: Temporal's own floor
(bench.temporal_floor: as many workflows, at the same cap, each one heartbeating 1 s
activity, nothing of delegate's, one worker in this process), so "vs floor" compares
with what Temporal itself gives at the same moment's load.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ms, percentile, table, write_json
from bench.orchestration import REPLY_S, FanOut, TimedSimulator, fan_out_row, spawned_agents
from bench.temporal_floor import cpu_s as _cpu_s
from bench.temporal_floor import fan_out as floor_fan_out
from bench.temporal_floor import floor_worker, runq_wait_s
from bench.temporal_phases import PHASES, attempt_phases, summarize
from core.config import Settings
from core.events import AgentFinished, AgentSpawned, Event, SteerDelivered, TurnEnded
from core.llm import make_client
from core.model_access import ModelAccess
from core.session import Session
from core.simulator import SimulatorTransport, serve
from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation

AGENTS = 20
CAPS = (20, 5)
PROBES = 10  # agents steered, then killed
PROBE_REPLY_S = 3.0
ROOT = Path(__file__).resolve().parent.parent


class Quiet(FanOut):
    """Probe runs: the operator spawns the agents; the CEO only acknowledges results."""

    def ceo(self, conv: Conversation) -> Reply:
        return Reply(latency_s=0.0).text("Noted.")


class Workers:
    """`delegate worker` children for one workspace queue, stopped on exit."""

    def __init__(self, address: str, workspace: Path, queue: str, sim_url: str) -> None:
        self.address, self.workspace, self.queue, self.sim_url = address, workspace, queue, sim_url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ANTHROPIC_BASE_URL": self.sim_url,
            "ANTHROPIC_API_KEY": "bench-key",
        }
        for _ in range(n):
            argv = [
                sys.executable, "-m", "tui.cli", "worker", "--temporal", self.address,
                "--workspace", str(self.workspace), "--queue", self.queue,
                "--conversations", str(self.workspace.parent / "conversations"),
            ]  # fmt: skip
            proc = subprocess.Popen(argv, env=env, stdout=-3, stderr=subprocess.PIPE)
            self.procs.append(proc)
        for proc in self.procs:  # each says one line once it is connected
            assert proc.stderr is not None
            line = proc.stderr.readline().decode()
            if "delegate worker:" not in line:
                raise RuntimeError(f"the worker did not start: {line.strip()}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        self.procs.clear()


def _settings(workspace: Path, cap: int, runner: str, address: str | None, queue: str) -> Settings:
    return Settings().with_overrides(
        simulate=True,
        workspace=workspace,
        max_concurrent=cap,
        runner=runner,
        temporal_address=address,
        workspace_queue=queue,
        budget_usd=None,
    )


async def fan_out(sim: TimedSimulator, settings: Settings, agents: int, cap: int) -> dict[str, Any]:
    client = make_client("simulator", "http://simulator.invalid", transport=SimulatorTransport(sim))
    access = ModelAccess(client, simulated=True, describe="fan-out")
    session = Session(settings, access=access)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    session.start("fan out")
    outcome = await asyncio.wait_for(session.wait_finished(), 300)
    spawned = spawned_agents(events)
    finished = [e for e in events if isinstance(e, AgentFinished) and e.agent_id in spawned]
    phases = await _phases(session, sim, spawned, finished)
    await session.close()
    return fan_out_row(events, sim, agents, cap, outcome.status) | {"phases": phases}


async def _phases(
    session: Session,
    sim: TimedSimulator,
    spawned: dict[str, AgentSpawned],
    finished: list[AgentFinished],
) -> dict[str, dict[str, float]]:
    """Per-phase latency of the attempts, from their workflow histories (Temporal only)."""
    from core.temporal.runner import TemporalRunner
    from core.temporal.types import attempt_workflow_id

    runner = session.agent_runner
    if not isinstance(runner, TemporalRunner) or runner.client is None:
        return {}
    ends = {e.agent_id: e.ts for e in finished}
    rows = []
    for agent_id, e in spawned.items():
        wid = attempt_workflow_id(runner.options.id_prefix, session.run_id, agent_id, 1)
        rows.append(
            await attempt_phases(
                runner.client, wid, e.ts, sim.first_request.get(e.task), ends[agent_id]
            )
        )
    return summarize(rows)


async def probes(sim: TimedSimulator, settings: Settings) -> dict[str, Any]:
    """Steer each of PROBES agents mid-reply (delivered after that turn), then kill PROBES
    agents whose replies take a minute."""
    client = make_client("simulator", "http://simulator.invalid", transport=SimulatorTransport(sim))
    access = ModelAccess(client, simulated=True, describe="probes")
    session = Session(settings, access=access, interactive=True)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    sim.latency_s = PROBE_REPLY_S
    session.start()
    print(f"  {settings.runner}: probes", file=sys.stderr, flush=True)
    ids = [session.spawn("research", f"Probe task {i}") for i in range(PROBES)]
    tasks = {a: next(e.task for e in events if isinstance(e, AgentSpawned) and e.agent_id == a)
             for a in ids}  # fmt: skip
    steers: dict[str, str] = {}

    def steer_due() -> bool:
        """Each agent is steered mid-reply: half a second after its request arrived (its
        reply takes PROBE_REPLY_S)."""
        for a in ids:
            t = sim.first_request.get(tasks[a])
            if a not in steers.values() and t is not None and time.time() >= t + 0.5:
                steers[session.steer(a, "Also say what you checked.")] = a
        return len(steers) == len(ids)

    await _until(steer_due)
    await _until(lambda: sum(isinstance(e, SteerDelivered) for e in events) >= len(steers))
    ended = {e.agent_id: e.ts for e in events if isinstance(e, TurnEnded) and e.turn == 1}
    delivered = [e.ts - ended[steers[e.steer_id]] for e in events if isinstance(e, SteerDelivered)]
    await session.supervisor.wait(ids, timeout_s=60)
    sim.latency_s = 60.0  # the next replies hang: kill them mid-reply
    long = [session.spawn("research", f"Long task {i}") for i in range(PROBES)]
    long_tasks = [next(e.task for e in events if isinstance(e, AgentSpawned) and e.agent_id == a)
                  for a in long]  # fmt: skip
    await _until(lambda: all(t in sim.first_request for t in long_tasks))
    kills = []
    for a in long:
        t = time.monotonic()
        await session.kill(a)
        kills.append(time.monotonic() - t)
    sim.latency_s = REPLY_S
    await session.close()
    return {
        "steer_delivered_p50_ms": ms(percentile(delivered, 50)),
        "steer_delivered_p99_ms": ms(percentile(delivered, 99)),
        "kill_p50_ms": ms(percentile(kills, 50)),
        "kill_p99_ms": ms(percentile(kills, 99)),
    }


async def run_all(
    worker_counts: list[int], caps: tuple[int, ...] = CAPS, probe: bool = True
) -> list[dict[str, Any]]:
    from core.temporal.devserver import start_dev_server

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-temporal-") as tmp:
        root = Path(tmp)
        workspace = root / "ws"
        workspace.mkdir()
        server = await start_dev_server(root / "temporal.db")
        try:
            sims = {
                "fan": TimedSimulator(FanOut(AGENTS), tokens_per_s=1e6, latency_s=REPLY_S),
                "probe": TimedSimulator(Quiet(0), tokens_per_s=1e6, latency_s=REPLY_S),
            }
            loop_servers = {k: await serve(s) for k, s in sims.items()}
            for label, runner, workers in [("local", "local", 0)] + [
                (f"temporal, {n} worker{'s' if n > 1 else ''}", "temporal", n)
                for n in worker_counts
            ]:
                queue = f"bench-{workers}"
                pool: dict[str, Workers] = {}
                try:
                    for k, srv in loop_servers.items():
                        if workers and (probe or k == "fan"):
                            pool[k] = Workers(server.address, workspace, queue + k, srv.base_url)
                            pool[k].start(workers)
                    address = server.address if runner == "temporal" else None
                    if workers:  # a first workflow on a fresh worker pays its imports
                        await fan_out(
                            _fresh(sims["fan"]), _settings(workspace, AGENTS, runner, address,
                                                           queue + "fan"), AGENTS, AGENTS,
                        )  # fmt: skip
                    for cap in caps:
                        print(f"  {label}: fan-out cap {cap}", file=sys.stderr, flush=True)
                        sim = _fresh(sims["fan"])
                        procs = {"session": os.getpid()}
                        if server.process is not None:
                            procs["server"] = server.process.pid
                        if "fan" in pool:
                            procs |= {f"worker {i}": p.pid for i, p in enumerate(pool["fan"].procs)}
                        cpu0 = {k: _cpu_s(pid) for k, pid in procs.items()}
                        wait0 = {k: runq_wait_s(pid) for k, pid in procs.items()}
                        row = await fan_out(
                            sim, _settings(workspace, cap, runner, address, queue + "fan"),
                            AGENTS, cap,
                        )  # fmt: skip
                        row["cpu_s"] = {k: round(_cpu_s(pid) - cpu0[k], 2) for k, pid in
                                        procs.items()}  # fmt: skip
                        row["runq_wait_s"] = {k: round(runq_wait_s(pid) - wait0[k], 2)
                                              for k, pid in procs.items()}  # fmt: skip
                        row["load"] = os.getloadavg()[0]
                        row["runner"] = label
                        if runner == "temporal":
                            row["floor"] = await _floor(server, cap)
                        results.append(row)
                    if probe:
                        got = await probes(
                            _fresh(sims["probe"]),
                            _settings(workspace, PROBES, runner, address, queue + "probe"),
                        )
                        results.append({"runner": label, "probe": got})
                finally:
                    for w in pool.values():
                        w.stop()
            for srv in loop_servers.values():
                await srv.close()
        finally:
            server.stop()
    return results


async def _floor(server: Any, cap: int) -> dict[str, Any]:
    """Temporal alone at this cap on this server, now (its worker only while it runs)."""
    from temporalio.client import Client

    print(f"  temporal floor: cap {cap}", file=sys.stderr, flush=True)
    client = await Client.connect(server.address)
    pid = server.process.pid if server.process is not None else None
    async with floor_worker(client):
        return await floor_fan_out(client, AGENTS, cap, pid)


async def _until(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    for _ in iter(int, 1):  # polls: the simulator's records are plain dicts
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the bench waited too long")
        await asyncio.sleep(0.01)


def _fresh(sim: TimedSimulator) -> TimedSimulator:
    sim.first_request.clear()
    sim.latency_s = REPLY_S
    return sim


def main(args: Any) -> None:
    counts = [int(n) for n in str(args.workers).split(",") if n.strip()]
    caps = tuple(int(n) for n in str(args.caps).split(",") if n.strip())
    results = asyncio.run(run_all(counts, caps, not args.no_probes))
    fans = [r for r in results if "cap" in r]
    local = {r["cap"]: r["efficiency"] for r in fans if r["runner"] == "local"}
    rows = [
        [
            r["runner"], r["agents"], r["cap"], r["ideal_s"], r["wall_s"], r["efficiency"],
            round(r["efficiency"] / local[r["cap"]], 3),
            r["floor"]["efficiency"] if "floor" in r else "-",
            round(r["efficiency"] / r["floor"]["efficiency"], 3) if "floor" in r else "-",
            r["spawn_to_request_p50_ms"], r["spawn_to_request_p99_ms"], r["done"],
            " ".join(f"{k} {v:g}" for k, v in r["cpu_s"].items()),
            " ".join(f"{v:g}" for v in (r["floor"]["server_cpu_s"],
                                        r["floor"]["client_worker_cpu_s"])) if "floor" in r
            else "-",
            " ".join(f"{k} {v:g}" for k, v in r["runq_wait_s"].items()),
            " ".join(f"{v:g}" for v in (r["floor"]["server_runq_wait_s"],
                                        r["floor"]["client_worker_runq_wait_s"]))
            if "floor" in r else "-",
        ]
        for r in fans
    ]  # fmt: skip
    header = ["runner", "agents", "cap", "ideal s", "wall s", "efficiency", "vs local",
              "floor eff", "vs floor", "spawn->req p50", "spawn->req p99", "done",
              "cpu s", "floor cpu s (server worker)", "runq wait s",
              "floor runq wait s (server worker)"]  # fmt: skip
    print(table(f"Fan-out, {REPLY_S:g} s per reply (ms unless noted)", header, rows))
    probe_rows = [
        [r["runner"], r["probe"]["steer_delivered_p50_ms"], r["probe"]["steer_delivered_p99_ms"],
         r["probe"]["kill_p50_ms"], r["probe"]["kill_p99_ms"]]
        for r in results if "probe" in r
    ]  # fmt: skip
    phase_rows = [
        [case] + [f"{phases[p]['p50_ms']:g}/{phases[p]['p99_ms']:g}" if p in phases else "-"
                  for p in PHASES]
        for r in fans if r.get("phases")
        for case, phases in [
            (f"{r['runner'].removeprefix('temporal, ')} cap {r['cap']}", r["phases"]),
            (f"  its floor, cap {r['cap']}", r.get("floor", {}).get("phases", {})),
        ] if phases
    ]  # fmt: skip
    if phase_rows:
        print()
        print(table("Where an attempt's time goes (ms, p50/p99)", ["case", *PHASES], phase_rows))
    print()
    print(table(
        f"Steer and kill, {PROBES} agents (ms)",
        ["runner", "steer delivered p50", "p99", "kill p50", "kill p99"], probe_rows,
    ))  # fmt: skip
    print(
        "\nefficiency: ideal / wall (first spawn to last end); vs local: its ratio to the "
        "local runner's (target >= 0.9). floor eff: Temporal alone right after, on the "
        "same server (bench.temporal_floor: one heartbeating 1 s activity per workflow, "
        "its worker in the bench's process); vs floor: ours over it. cpu s: CPU seconds "
        "per process over the case; runq wait s: the time its threads were ready to run "
        "and waited for a core (the machine's other work). steer delivered: from the end "
        "of the turn it waited for. kill: session.kill() until the attempt ended (target "
        "< 1 s p99)."
    )
    write_json(args.json, {"benchmark": "orchestration-temporal", "results": results})
