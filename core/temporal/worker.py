"""A Temporal worker: the run and attempt workflows, and the activities of one workspace.

`delegate worker --temporal HOST:PORT --workspace DIR` runs one on any machine; a
session on `--runner temporal` without an address runs one in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core.config import Settings
from core.llm import ModelClient
from core.sandbox import detect_runner
from core.temporal.activities import Activities, WorkerHost
from core.temporal.conversations import ConversationStore
from core.temporal.dying import die_with_worker
from core.temporal.types import workspace_queue
from core.temporal.workflows import AttemptWorkflow, RunWorkflow
from core.tools.workspace import Workspace

# Kill stays under a second: a cancellation reaches an activity with its next heartbeat,
# which the worker sends at most this often (the default, 30 s, made it 1.3 s here).
HEARTBEAT_THROTTLE = timedelta(milliseconds=100)
# A worker that died loses its sticky cache: other workers take its workflows after this.
STICKY_TIMEOUT = timedelta(seconds=1)
# Every attempt is a new workflow whose first task comes on the queue's shared (not
# sticky) side, where the default takes one poll at a time (5 polls, a fifth of them
# shared): 20 spawns then waited for 20 poll round trips in turn. A task that finds no
# poll waiting goes to the server's backlog (written, read back): with 16 polls (8
# shared) 12 of 20 spawns' first tasks did, and waited 422 ms (p50) for a poll. 40
# polls, half shared: a burst of 20 on one worker is matched at once (227 ms at the same
# load, the server's CPU for the burst -19%), the turns' ends on the sticky side too.
WORKFLOW_POLLS = 40
SHARED_POLL_RATIO = 0.5


def default_conversations_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("delegate")) / "conversations"


def workspace_name(workspace: Path) -> str:
    """The task queue name of a workspace: its folder's name unless the config names it."""
    return workspace.resolve().name or "root"


def make_host(
    settings: Settings,
    client: ModelClient,
    workspace: Path,
    conversations: Path | None = None,
) -> WorkerHost:
    workspace = workspace.resolve()
    root = None
    with contextlib.suppress(OSError):
        root = Workspace(workspace)
    return WorkerHost(
        settings=settings,
        workspace=workspace,
        client=client,
        runner=die_with_worker(detect_runner(settings.sandbox, workspace)),
        conversations=ConversationStore(conversations or default_conversations_dir()),
        root=root,
    )


def build_workers(
    client: Client,
    host: WorkerHost,
    queue: str,
    *,
    workflows: bool = True,
    max_activities: int = 200,
) -> list[Worker]:
    acts = Activities(host)
    host.temporal = client
    workers: list[Worker] = []
    common: dict[str, Any] = {
        "max_heartbeat_throttle_interval": HEARTBEAT_THROTTLE,
        "default_heartbeat_throttle_interval": HEARTBEAT_THROTTLE,
        "sticky_queue_schedule_to_start_timeout": STICKY_TIMEOUT,
        "graceful_shutdown_timeout": timedelta(seconds=1),
        "max_concurrent_workflow_task_polls": WORKFLOW_POLLS,
        "nonsticky_to_sticky_poll_ratio": SHARED_POLL_RATIO,
    }
    workers.append(
        Worker(
            client,
            task_queue=workspace_queue(queue),
            workflows=[RunWorkflow, AttemptWorkflow] if workflows else [],
            # The workflows are deterministic by construction (core.temporal.workflows
            # does no I/O, reads no clock); the sandbox re-imported them for every
            # workflow started, ~0.1 s of CPU each: 20 spawns waited 2.7 s for it.
            workflow_runner=UnsandboxedWorkflowRunner(),
            activities=[acts.model_turn, acts.tool_call],
            max_concurrent_activities=max_activities,
            **common,
        )
    )
    return workers


class WorkerGroup:
    """Workers running as tasks of this event loop until `stop()`."""

    def __init__(self, workers: list[Worker], host: WorkerHost) -> None:
        self.workers = workers
        self.host = host
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(w.run(), name="temporal-worker") for w in self.workers]

    async def run(self) -> None:
        """Until the workers stop (started here if `start` was not called)."""
        if not self._tasks:
            self.start()
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):
                await w.shutdown()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.host.close()
