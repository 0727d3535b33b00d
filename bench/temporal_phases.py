"""Where an attempt's time goes on Temporal, read from the workflow histories (server
timestamps) and the session's own events (same clock: one machine).

Phases of an attempt with one model turn (the fan-out's agents; for Temporal's floor,
bench.temporal_floor, the start call is its spawn and its activity's start its request):
  spawn->wf start     the session's AgentSpawned to WorkflowExecutionStarted
  wf start->task      the first workflow task scheduled to started (a worker's poll)
  first task          that task started to completed (the worker's activation)
  act sched->start    the model-turn activity scheduled to started
  act start->request  activity started to the simulator's first request (the turn's setup)
  turn                that request to ActivityTaskCompleted (the 1 s reply, streamed)
  act done->wf done   ActivityTaskCompleted to WorkflowExecutionCompleted (workflow tasks)
  wf done->finished   WorkflowExecutionCompleted to the session's AgentFinished
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.common import ms, percentile

PHASES = (
    "spawn->wf start",
    "wf start->task",
    "first task",
    "act sched->start",
    "act start->request",
    "turn",
    "act done->wf done",
    "wf done->finished",
)


async def attempt_phases(
    client: Any, workflow_id: str, spawned: float, request: float | None, finished: float
) -> dict[str, float]:
    """The phases of one attempt (seconds), from its history and the session's times."""
    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    first: dict[int, float] = {}
    for event in history.events:
        first.setdefault(event.event_type, event.event_time.ToMicroseconds() / 1e6)
    t = first.get
    started = t(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    task_sched = t(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
    task_start = t(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    task_done = t(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    act_sched = t(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    act_start = t(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    act_done = t(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    wf_done = t(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
    out: dict[str, float] = {}

    def put(name: str, a: float | None, b: float | None) -> None:
        if a is not None and b is not None:
            out[name] = b - a

    put("spawn->wf start", spawned, started)
    put("wf start->task", task_sched, task_start)
    put("first task", task_start, task_done)
    put("act sched->start", act_sched, act_start)
    put("act start->request", act_start, request)
    put("turn", request, act_done)
    put("act done->wf done", act_done, wf_done)
    put("wf done->finished", wf_done, finished)
    return out


def summarize(rows: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50 and p99 (ms) of each phase over the attempts."""
    out: dict[str, dict[str, float]] = {}
    for name in PHASES:
        values = [r[name] for r in rows if name in r]
        if values:
            out[name] = {"p50_ms": ms(percentile(values, 50)), "p99_ms": ms(percentile(values, 99))}
    return out
