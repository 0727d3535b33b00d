"""Store: events per second written while the event loop stays responsive; loss on kill -9.

Throughput: a producer appends events at a fixed rate (every 10 ms a burst) through
`Store.append`, as the bus does, while a 5 ms sleeper measures loop lag; each step raises
the rate. Kill: a child process appends at a steady rate and is killed with SIGKILL; the
events missing from the file afterwards, in seconds' worth of its rate, are the loss.

    python -m bench.store
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LagProbe, ms, parser, table, write_json
from core import events as ev
from core.store import Store

RUN = "bench-store"
RATES = (1_000, 5_000, 20_000, 50_000, 100_000)
STEP_S = 3.0
BURST_S = 0.01


def make_event(kind: str, n: int) -> ev.Event:
    agent = f"a{n % 100}"
    if kind == "text":
        return ev.TextDelta(run_id=RUN, agent_id=agent, turn=1, text="word " * 3)
    return ev.ToolCallStarted(
        run_id=RUN, agent_id=agent, tool_use_id=f"t{n}", name="read_file", input={"n": n}
    )


def begin(store: Store) -> None:
    store.append(
        ev.RunStarted(
            run_id=RUN, task="t", workspace="/w", ceo_model="m", simulated=True, max_concurrent=5
        )
    )
    for i in range(100):
        store.append(
            ev.AgentSpawned(run_id=RUN, agent_id=f"a{i}", role="data", model="m", task="t")
        )


async def throughput(kind: str, rate: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        store = await Store.open(Path(tmp) / "s.db")
        begin(store)
        await store.flush()
        before = store.stats
        probe = LagProbe()
        probe.start()
        per_burst = max(1, round(rate * BURST_S))
        t0 = time.perf_counter()
        n = 0
        while (now := time.perf_counter()) - t0 < STEP_S:
            due = int((now - t0) * rate) + per_burst
            while n < due:
                store.append(make_event(kind, n))
                n += 1
            await asyncio.sleep(BURST_S)
        appended_s = time.perf_counter() - t0
        await store.flush()
        total_s = time.perf_counter() - t0
        lag = await probe.stop()
        after = store.stats
        await store.close()
    written = after.written_events - before.written_events
    return {
        "kind": kind,
        "target_per_s": rate,
        "appended_per_s": round(n / appended_s),
        "written_per_s": round(written / total_s),
        "rows_per_s": round((after.written_rows - before.written_rows) / total_s),
        "lag_p50_ms": ms(lag.percentile(50)),
        "lag_p99_ms": ms(lag.percentile(99)),
        "max_batch_latency_ms": ms(after.max_batch_latency_s),
        "drain_s": round(total_s - appended_s, 3),
    }


CHILD = """
import asyncio, sys, time
from pathlib import Path
from bench.store import RUN, begin, make_event
from core.store import Store

async def main() -> None:
    store = await Store.open(Path(sys.argv[1]))
    rate = int(sys.argv[2])
    begin(store)
    await store.flush()
    print("ready", flush=True)
    t0, n = time.perf_counter(), 0
    while True:
        due = int((time.perf_counter() - t0) * rate) + 1
        while n < due:
            store.append(make_event("tool", n))
            n += 1
        print(n, time.perf_counter() - t0, flush=True)
        await asyncio.sleep(0.01)

asyncio.run(main())
"""


async def kill9(rate: int, run_s: float = 2.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-kill-") as tmp:
        db = Path(tmp) / "k.db"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, str(db), str(rate), stdout=asyncio.subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)
        appended, elapsed = 0, 0.0
        while elapsed < run_s:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            appended, elapsed = int(line.split()[0]), float(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        rest = await proc.stdout.read()
        await proc.wait()
        for line in rest.splitlines():  # printed before the kill landed
            appended, elapsed = int(line.split()[0]), float(line.split()[1])
        store = await Store.open(db)
        try:
            stored = sum(isinstance(e, ev.ToolCallStarted) for e in await store.events(RUN))
        finally:
            await store.close()
    lost = appended - stored
    per_s = appended / elapsed
    return {
        "rate_per_s": rate,
        "appended": appended,
        "stored": stored,
        "lost": lost,
        "lost_s": round(lost / per_s, 3),
    }


async def run_all() -> dict[str, Any]:
    steps = [await throughput(kind, rate) for kind in ("tool", "text") for rate in RATES]
    kills = [await kill9(rate) for rate in (1_000, 20_000)]
    return {"throughput": steps, "kill9": kills}


def main() -> None:
    p = parser(__doc__ or "")
    args = p.parse_args()
    result = asyncio.run(run_all())
    rows = [
        [
            s["kind"], s["target_per_s"], s["appended_per_s"], s["written_per_s"], s["rows_per_s"],
            s["lag_p50_ms"], s["lag_p99_ms"], s["max_batch_latency_ms"], s["drain_s"],
        ]
        for s in result["throughput"]
    ]  # fmt: skip
    header = [
        "events", "target/s", "appended/s", "written/s", "rows/s", "lag p50 ms", "lag p99 ms",
        "batch latency ms", "drain s",
    ]  # fmt: skip
    print(table(f"Store throughput ({STEP_S:g} s per step; text deltas coalesce)", header, rows))
    ok = [s for s in result["throughput"] if s["lag_p99_ms"] < 50 and s["drain_s"] < 0.5]
    for kind in ("tool", "text"):
        best = max((s["written_per_s"] for s in ok if s["kind"] == kind), default=0)
        print(f"highest {kind} rate with loop lag p99 < 50 ms: {best}/s")
    print()
    krows = [
        [k["rate_per_s"], k["appended"], k["stored"], k["lost"], k["lost_s"]]
        for k in result["kill9"]
    ]
    print(
        table(
            "kill -9 (target: at most 1 s worth lost)",
            ["rate/s", "appended", "stored", "lost", "lost (s of rate)"],
            krows,
        )
    )
    write_json(args.json, {"benchmark": "store", **result})


if __name__ == "__main__":
    main()
