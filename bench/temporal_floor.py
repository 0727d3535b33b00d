"""Temporal's own floor under the fan-out: N workflows each running one activity that
sleeps 1 s (heartbeating as a model turn does), nothing of delegate's around them, on
the dev server the session starts, one worker in this process.

    python -m bench.temporal_floor [--agents 20] [--repeat 3]

Efficiency = 1 s / wall; compare `python -m bench.orchestration --runner temporal`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.common import parser, table, write_json
from core.temporal.activities import HEARTBEAT_EVERY_S
from core.temporal.worker import HEARTBEAT_THROTTLE, SHARED_POLL_RATIO, WORKFLOW_POLLS

QUEUE = "bench-floor"


@activity.defn(name="floor.turn")
async def turn(n: int) -> int:
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        activity.heartbeat()
        await asyncio.sleep(min(HEARTBEAT_EVERY_S, max(0.0, end - time.monotonic())))
    return n


@workflow.defn(name="floor.attempt")
class FloorWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        result: int = await workflow.execute_activity(
            "floor.turn",
            n,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=3),
        )
        return result


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(agents: int, repeat: int) -> list[dict[str, Any]]:
    from core.temporal.devserver import start_dev_server

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        server = await start_dev_server(Path(tmp) / "temporal.db")
        try:
            assert server.process is not None
            client = await Client.connect(server.address)
            worker = Worker(
                client,
                task_queue=QUEUE,
                workflows=[FloorWorkflow],
                activities=[turn],
                workflow_runner=UnsandboxedWorkflowRunner(),
                max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                max_concurrent_workflow_task_polls=WORKFLOW_POLLS,
                nonsticky_to_sticky_poll_ratio=SHARED_POLL_RATIO,
            )
            async with worker:
                await client.execute_workflow("floor.attempt", 0, id="warm", task_queue=QUEUE)
                for rep in range(repeat):
                    cpu0, own0 = _cpu_s(server.process.pid), time.process_time()
                    t0 = time.monotonic()
                    handles = await asyncio.gather(
                        *(
                            client.start_workflow(
                                "floor.attempt", i, id=f"f{rep}-{i}", task_queue=QUEUE
                            )
                            for i in range(agents)
                        )
                    )
                    await asyncio.gather(*(h.result() for h in handles))
                    wall = time.monotonic() - t0
                    rows.append(
                        {
                            "agents": agents,
                            "wall_s": round(wall, 3),
                            "efficiency": round(1.0 / wall, 3),
                            "server_cpu_s": round(_cpu_s(server.process.pid) - cpu0, 2),
                            "client_worker_cpu_s": round(time.process_time() - own0, 2),
                            "load": round(os.getloadavg()[0], 1),
                        }
                    )
        finally:
            server.stop()
    return rows


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    rows = asyncio.run(run(args.agents, args.repeat))
    header = ["agents", "wall s", "efficiency", "server cpu s", "client+worker cpu s", "load"]
    print(table("Temporal alone: one 1 s activity per workflow", header,
                [list(r.values()) for r in rows]))  # fmt: skip
    write_json(args.json, {"benchmark": "temporal-floor", "runs": rows})


if __name__ == "__main__":
    main()
