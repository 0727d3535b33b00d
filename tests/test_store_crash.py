"""A process killed with SIGKILL mid-run loses at most about its last batch of events."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.events import ToolCallStarted
from core.store import Store

RUN = "crash-run"

# Appends events continuously through a Store; prints "<appended> <seconds>" every 100.
CHILD = """
import asyncio, sys, time
from pathlib import Path
from core import events as ev
from core.store import Store

async def main() -> None:
    store = await Store.open(Path(sys.argv[1]))
    run = sys.argv[2]
    store.append(ev.RunStarted(run_id=run, task="t", workspace="/w", ceo_model="m",
                               simulated=True, max_concurrent=5))
    store.append(ev.AgentSpawned(run_id=run, agent_id="ceo", role="ceo", model="m", task="t"))
    store.append(ev.AgentStateChanged(run_id=run, agent_id="ceo", state="running"))
    await store.flush()
    start, n = time.monotonic(), 0
    while True:
        for _ in range(20):
            n += 1
            store.append(ev.ToolCallStarted(run_id=run, agent_id="ceo", tool_use_id=str(n),
                                            name="read_file", input={"n": n}))
        if n % 100 == 0:
            print(n, time.monotonic() - start, flush=True)
        await asyncio.sleep(0.002)

asyncio.run(main())
"""


async def test_sigkill_loses_at_most_about_one_batch(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(db), RUN, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    last, elapsed = 0, 0.0
    try:
        while elapsed < 1.2:  # let it run a little over a second
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
            assert line, "the child exited early"
            last, elapsed = int(line.split()[0]), float(line.split()[1])
    finally:
        proc.kill()  # SIGKILL
        await proc.wait()  # reaped, so its pid is no longer alive
    for line in (await proc.stdout.read()).splitlines():  # printed before the kill
        last, elapsed = int(line.split()[0]), float(line.split()[1])
    one_second = last / elapsed

    store = await Store.open(db)
    try:
        run = await store.find_run(RUN)
        assert run is not None and run.status == "interrupted"
        (ceo,) = await store.agents(RUN)
        assert ceo.state == "interrupted"
        events = await store.events(RUN)
        stored = sum(isinstance(e, ToolCallStarted) for e in events)
        assert last - one_second <= stored <= last
        assert [e.input["n"] for e in events if isinstance(e, ToolCallStarted)] == list(
            range(1, stored + 1)
        )  # a prefix: nothing in the middle went missing
        assert events[-1].kind == "run_finished"
    finally:
        await store.close()
