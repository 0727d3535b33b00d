"""A worker child process for the crash test: the real worker code with a scripted model.

    python -m tests.temporal_child_worker ADDRESS WORKSPACE QUEUE

`script` is also what the test's replacement worker answers with, so a turn or tool call
that ran here and runs again there gives the same result.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.config import Settings
from core.llm import TurnRequest, TurnResult, TurnSink
from core.sandbox import SandboxSettings
from tests.scripted import ScriptedModel, first_text, text, tool_use

# The first run writes its pids and sleeps; run again after a crash, it ends at once.
COMMAND = (
    "if [ -e ran.once ]; then echo again; else touch ran.once; echo $$ > shell.pid; "
    "sleep 30 & echo $! > child.pid; sleep 30; wait; fi"
)


async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
    task = first_text(request)
    if len(request.messages) == 1:
        if task == "command":
            return tool_use("run_command", {"command": COMMAND, "timeout_s": 60})
        await asyncio.sleep(1.0)  # a reply that takes a while, so the crash lands mid-turn
        return tool_use("list_files", {})
    return text(f"result of {task}")


async def main(address: str, workspace: Path, queue: str) -> None:
    from temporalio.client import Client

    from core.temporal.worker import WorkerGroup, build_workers, make_host

    settings = Settings(workspace=workspace, sandbox=SandboxSettings(mode="off"))
    client = await Client.connect(address)
    model = ScriptedModel(script)
    host = make_host(settings, model, workspace, workspace / "conversations")  # type: ignore[arg-type]
    group = WorkerGroup(build_workers(client, host, queue), host)
    group.start()
    print("ready", flush=True)
    await group.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
