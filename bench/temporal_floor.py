"""Temporal's own floor under the fan-out: N workflows each running one activity that
sleeps 1 s (heartbeating as a model turn does), nothing of delegate's around them, on
the dev server the session starts, one worker in this process.

    python -m bench.temporal_floor [--agents 20] [--cap 20] [--repeat 3]

Efficiency = ideal / wall (ideal: ceil(agents / cap) s, at most `cap` workflows at
once); `python -m bench.orchestration --runner temporal` runs it beside each of its
Temporal cases, on the same server, so its ratios are against a floor of the same load.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.common import parser, table, write_json
from bench.temporal_phases import PHASES, attempt_phases, summarize
from core.temporal.activities import HEARTBEAT_EVERY_S
from core.temporal.worker import HEARTBEAT_THROTTLE, SHARED_POLL_RATIO, WORKFLOW_POLLS

QUEUE = "bench-floor"
TURN_S = 1.0
# When each floor workflow's activity began (wall clock, as the histories' times): the
# floor's "request", for its phases (bench.temporal_phases).
ENTERED: dict[str, float] = {}


@activity.defn(name="floor.turn")
async def turn(key: str) -> str:
    ENTERED.setdefault(key, time.time())
    end = time.monotonic() + TURN_S
    while time.monotonic() < end:
        activity.heartbeat()
        await asyncio.sleep(min(HEARTBEAT_EVERY_S, max(0.0, end - time.monotonic())))
    return key


@workflow.defn(name="floor.attempt")
class FloorWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        result: str = await workflow.execute_activity(
            "floor.turn",
            key,
            result_type=str,
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=3),
        )
        return result


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runq_wait_s(pid: int) -> float:
    """Seconds a process's threads have waited, runnable, for a CPU (/proc schedstat): on a
    machine shared with other work, how much of its latency is the cores being busy."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


@contextlib.asynccontextmanager
async def floor_worker(client: Client, queue: str = QUEUE) -> AsyncIterator[Worker]:
    """A worker of the floor's workflow in this process, with the runner's worker settings
    (heartbeat throttle, workflow polls), warmed by one workflow."""
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[FloorWorkflow],
        activities=[turn],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        max_concurrent_workflow_task_polls=WORKFLOW_POLLS,
        nonsticky_to_sticky_poll_ratio=SHARED_POLL_RATIO,
    )
    async with worker:
        warm = f"floor-warm-{uuid.uuid4().hex[:8]}"
        await client.execute_workflow("floor.attempt", warm, id=warm, task_queue=queue)
        yield worker


async def fan_out(
    client: Client, agents: int, cap: int, server_pid: int | None, queue: str = QUEUE
) -> dict[str, Any]:
    """`agents` floor workflows, at most `cap` at once; wall from the first start to the
    last result; the phases of their time as the fan-out's (the start call as its spawn,
    the activity's start as its request, the result as its end)."""
    gate = asyncio.Semaphore(cap)
    tag = uuid.uuid4().hex[:8]
    times: dict[str, tuple[float, float]] = {}

    async def one(i: int) -> None:
        key = f"floor-{tag}-{i}"
        async with gate:
            began = time.time()
            handle = await client.start_workflow("floor.attempt", key, id=key, task_queue=queue)
            await handle.result()
            times[key] = (began, time.time())

    cpu0 = cpu_s(server_pid) if server_pid else 0.0
    wait0 = runq_wait_s(server_pid) if server_pid else 0.0
    own_wait0 = runq_wait_s(os.getpid())
    own0 = time.process_time()
    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(agents)))
    wall = time.monotonic() - t0
    server_cpu = round(cpu_s(server_pid) - cpu0, 2) if server_pid else None
    server_wait = round(runq_wait_s(server_pid) - wait0, 2) if server_pid else None
    own_wait = round(runq_wait_s(os.getpid()) - own_wait0, 2)
    own_cpu = round(time.process_time() - own0, 2)
    ideal = math.ceil(agents / cap) * TURN_S
    rows = [
        await attempt_phases(client, key, began, ENTERED.get(key), ended)
        for key, (began, ended) in times.items()
    ]
    return {
        "agents": agents,
        "cap": cap,
        "ideal_s": ideal,
        "wall_s": round(wall, 3),
        "efficiency": round(ideal / wall, 3),
        "server_cpu_s": server_cpu,
        "client_worker_cpu_s": own_cpu,
        "server_runq_wait_s": server_wait,
        "client_worker_runq_wait_s": own_wait,
        "load": round(os.getloadavg()[0], 1),
        "phases": summarize(rows),
    }


async def run(agents: int, cap: int, repeat: int) -> list[dict[str, Any]]:
    from core.temporal.devserver import start_dev_server

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        server = await start_dev_server(Path(tmp) / "temporal.db")
        try:
            assert server.process is not None
            client = await Client.connect(server.address)
            async with floor_worker(client):
                for _ in range(repeat):
                    rows.append(await fan_out(client, agents, cap, server.process.pid))
        finally:
            server.stop()
    return rows


def _cell(phases: dict[str, dict[str, float]], name: str) -> str:
    got = phases.get(name)
    return f"{got['p50_ms']:g}/{got['p99_ms']:g}" if got else "-"


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--cap", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    rows = asyncio.run(run(args.agents, args.cap, args.repeat))
    header = ["agents", "cap", "ideal s", "wall s", "efficiency", "server cpu s",
              "client+worker cpu s", "server runq wait s", "client+worker runq wait s",
              "load"]  # fmt: skip
    print(table(f"Temporal alone: one {TURN_S:g} s activity per workflow", header,
                [[v for k, v in r.items() if k != "phases"] for r in rows]))  # fmt: skip
    print()
    print(table("Where a workflow's time goes (ms, p50/p99)", ["run", *PHASES],
                [[i + 1] + [_cell(r["phases"], p) for p in PHASES]
                 for i, r in enumerate(rows)]))  # fmt: skip
    write_json(args.json, {"benchmark": "temporal-floor", "runs": rows})


if __name__ == "__main__":
    main()
