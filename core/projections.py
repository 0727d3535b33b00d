"""The `runs` and `agents` read models, folded from events in memory by the store writer.

The writer applies each event to these objects in the same transaction that stores
the event, then saves the rows that changed. Pure Python, no SQL: easy to test.
`UsageUpdated` carries cumulative totals per attempt, so an agent's usage is the
sum over its attempts of each attempt's latest record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.events import (
    CEO_ID,
    TERMINAL_STATES,
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentState,
    AgentStateChanged,
    Event,
    OperatorMessage,
    RunFinished,
    RunStarted,
    RunStatus,
    TimeoutChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnStarted,
    UsageUpdated,
)
from core.queue_positions import QueuePositions

INTERRUPTED_REASON = "the app stopped while this was running"


def process_token(pid: int) -> str:
    """The start time of process `pid` (Linux), so a reused pid is not taken as alive."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    if not fields or fields[0] == "Z":  # a zombie has exited
        return "zombie"
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid: int | None, token: str | None) -> bool:
    """Whether the process that wrote a run is still running."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    current = process_token(pid)
    if current == "zombie":
        return False
    return not (token and current and current != token)


@dataclass
class AttemptUsage:
    """The latest cumulative usage of one attempt of one agent."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = 0.0
    context_tokens: int = 0
    estimated: bool = False  # output and cost partly counted from streamed text


@dataclass
class AgentProjection:
    run_id: str
    agent_id: str
    spawn_seq: int
    spawned_at: float
    role: str = ""
    model: str = ""
    task: str = ""
    state: AgentState = "queued"
    attempt: int = 1
    timeout_s: float | None = None
    elapsed_s: float | None = None
    result: str | None = None
    queue_position: int | None = None
    last_tool: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    context_window: int | None = None
    attempts: dict[int, AttemptUsage] = field(default_factory=dict)

    def tokens(self) -> tuple[int, int, int, int]:
        """(input, output, cache_read, cache_write) summed over attempts."""
        a = self.attempts.values()
        return (
            sum(u.input_tokens for u in a),
            sum(u.output_tokens for u in a),
            sum(u.cache_read_tokens for u in a),
            sum(u.cache_write_tokens for u in a),
        )

    def cost_usd(self) -> float | None:
        """Summed over attempts; None when any attempt's cost is unknown."""
        total = 0.0
        for usage in self.attempts.values():
            if usage.cost_usd is None:
                return None
            total += usage.cost_usd
        return total

    def estimated(self) -> bool:
        """Some attempt's usage was counted from streamed text (it ended mid-reply)."""
        return any(u.estimated for u in self.attempts.values())

    def context_tokens(self) -> int:
        latest = self.attempts.get(self.attempt)
        return latest.context_tokens if latest else 0


@dataclass
class RunProjection:
    run_id: str
    next_seq: int = 1
    exists: bool = False  # a row is in the database (or will be after this batch)
    task: str = ""
    status: RunStatus = "running"
    created_at: float | None = None
    finished_at: float | None = None
    workspace: str = ""
    ceo_model: str = ""
    simulated: bool = False
    max_concurrent: int = 0
    result: str | None = None
    pid: int | None = None
    pid_token: str = ""
    resumed_from: str | None = None
    last_ts: float = 0.0
    agents: dict[str, AgentProjection] = field(default_factory=dict)
    queue: QueuePositions = field(default_factory=QueuePositions)

    def tokens(self) -> tuple[int, int, int, int]:
        totals = [0, 0, 0, 0]
        for agent in self.agents.values():
            for i, n in enumerate(agent.tokens()):
                totals[i] += n
        return totals[0], totals[1], totals[2], totals[3]

    def estimated(self) -> bool:
        return any(agent.estimated() for agent in self.agents.values())

    def cost_usd(self) -> float | None:
        """Sum over agents (the CEO included); None when any agent's cost is unknown."""
        total = 0.0
        for agent in self.agents.values():
            cost = agent.cost_usd()
            if cost is None:
                return None
            total += cost
        return total


class Projector:
    """Applies events to run projections and remembers which rows changed."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.pid_token = process_token(self.pid)
        self.dirty_runs: set[str] = set()
        self.dirty_agents: set[tuple[str, str]] = set()
        self.dirty_attempts: set[tuple[str, str, int]] = set()

    def clear_dirty(self) -> None:
        self.dirty_runs.clear()
        self.dirty_agents.clear()
        self.dirty_attempts.clear()

    def apply(self, run: RunProjection, event: Event, seq: int) -> None:
        """Fold one stored event (row `seq`) into `run`."""
        run.last_ts = max(run.last_ts, event.ts)
        if isinstance(event, RunStarted):
            self._run_started(run, event)
        elif isinstance(event, RunFinished):
            run.status, run.result, run.finished_at = event.status, event.result, event.ts
            self._touch_run(run, event.ts)
        elif event.agent_id is not None:
            if isinstance(event, OperatorMessage) and not run.task.strip():
                self._first_task(run, event, seq)
            self._agent_event(run, event, seq)

    def _first_task(self, run: RunProjection, ev: OperatorMessage, seq: int) -> None:
        """A run started without a task takes the operator's first message as its task."""
        run.task = ev.text
        self._touch_run(run, ev.ts)
        ceo = self._agent(run, CEO_ID, seq, ev.ts)
        if not ceo.task:
            ceo.task = ev.text
            self.dirty_agents.add((run.run_id, CEO_ID))

    def _touch_run(self, run: RunProjection, ts: float) -> None:
        if not run.exists:  # events before RunStarted: keep a row so totals add up
            run.exists = True
            run.created_at = ts
        self.dirty_runs.add(run.run_id)

    def _run_started(self, run: RunProjection, ev: RunStarted) -> None:
        if run.created_at is None or not run.exists:
            run.created_at = ev.ts
        run.exists = True
        run.task, run.workspace, run.ceo_model = ev.task, ev.workspace, ev.ceo_model
        run.simulated, run.max_concurrent = ev.simulated, ev.max_concurrent
        run.resumed_from = ev.resumed_from
        run.status, run.result, run.finished_at = "running", None, None
        run.pid, run.pid_token = self.pid, self.pid_token
        self.dirty_runs.add(run.run_id)

    def _agent(self, run: RunProjection, agent_id: str, seq: int, ts: float) -> AgentProjection:
        agent = run.agents.get(agent_id)
        if agent is None:
            agent = AgentProjection(run.run_id, agent_id, spawn_seq=seq, spawned_at=ts)
            if agent_id == CEO_ID:
                agent.role = CEO_ID
            run.agents[agent_id] = agent
        return agent

    def _agent_event(self, run: RunProjection, ev: Event, seq: int) -> None:
        assert ev.agent_id is not None
        known = ev.agent_id in run.agents
        agent = self._agent(run, ev.agent_id, seq, ev.ts)
        changed = not known
        if isinstance(ev, AgentSpawned):
            agent.role, agent.model, agent.task = ev.role, ev.model, ev.task
            agent.attempt, agent.timeout_s = ev.attempt, ev.timeout_s
            agent.context_window = ev.context_window
            agent.state, agent.result, agent.elapsed_s = "queued", None, None
            agent.queue_position, agent.last_tool = None, ""
            agent.started_at = agent.finished_at = None
            usage = agent.attempts.setdefault(ev.attempt, AttemptUsage(model=ev.model))
            usage.model = ev.model
            self.dirty_attempts.add((run.run_id, agent.agent_id, ev.attempt))
            changed = True
        elif isinstance(ev, AgentQueued):
            agent.state, agent.queue_position = "queued", ev.position
            run.queue.enter(agent.agent_id, ev.position)
            changed = True
        elif isinstance(ev, AgentStateChanged):
            self._state(agent, ev.state, ev.ts)
            self._left_queue(run, agent)
            changed = True
        elif isinstance(ev, AgentFinished):
            if ev.attempt >= agent.attempt:
                self._state(agent, ev.state, ev.ts)
                self._left_queue(run, agent)
                agent.result, agent.elapsed_s = ev.result, ev.elapsed_s
                changed = True
        elif isinstance(ev, TimeoutChanged):
            agent.timeout_s = ev.timeout_s
            changed = True
        elif isinstance(ev, TurnStarted):
            changed = changed or agent.model != ev.model
            agent.model = ev.model
            usage = agent.attempts.setdefault(agent.attempt, AttemptUsage())
            if usage.model != ev.model:
                usage.model = ev.model
                self.dirty_attempts.add((run.run_id, agent.agent_id, agent.attempt))
        elif isinstance(ev, UsageUpdated):
            agent.attempts[ev.attempt] = AttemptUsage(
                model=agent.attempts.get(ev.attempt, AttemptUsage(model=agent.model)).model,
                input_tokens=ev.input_tokens,
                output_tokens=ev.output_tokens,
                cache_read_tokens=ev.cache_read_tokens,
                cache_write_tokens=ev.cache_write_tokens,
                cost_usd=ev.cost_usd,
                context_tokens=ev.context_tokens,
                estimated=ev.estimated,
            )
            self.dirty_attempts.add((run.run_id, agent.agent_id, ev.attempt))
            self.dirty_runs.add(run.run_id)
            changed = True
        elif isinstance(ev, ToolCallStarted):
            agent.last_tool = ev.summary or ev.name
            changed = True
        elif isinstance(ev, ToolCallFinished) and ev.summary:
            agent.last_tool = ev.summary
            changed = True
        if changed:
            self.dirty_agents.add((run.run_id, agent.agent_id))
            if not known:
                self._touch_run(run, ev.ts)  # the agent count changed

    def _left_queue(self, run: RunProjection, agent: AgentProjection) -> None:
        """An agent that is no longer queued moves everyone behind it up by one."""
        if agent.state == "queued":
            return
        for other in run.queue.leave(agent.agent_id):
            moved = run.agents.get(other)
            if moved is not None:
                moved.queue_position = run.queue.get(other)
                self.dirty_agents.add((run.run_id, other))

    @staticmethod
    def _state(agent: AgentProjection, state: AgentState, ts: float) -> None:
        agent.state = state
        if state != "queued":
            agent.queue_position = None
        if state == "running" and agent.started_at is None:
            agent.started_at = ts
        if state in TERMINAL_STATES:
            agent.finished_at = ts
            if agent.elapsed_s is None and agent.started_at is not None:
                agent.elapsed_s = max(0.0, ts - agent.started_at)


def interruption_events(run: RunProjection) -> list[Event]:
    """What a run that died mid-way gets appended: each live agent and the run end.

    Timestamps are the run's last stored event, roughly when the process died.
    """
    ts = run.last_ts or (run.created_at or 0.0)
    events: list[Event] = []
    for agent in sorted(run.agents.values(), key=lambda a: a.spawn_seq):
        if agent.state in TERMINAL_STATES:
            continue
        elapsed = max(0.0, ts - agent.started_at) if agent.started_at is not None else 0.0
        events.append(
            AgentStateChanged(
                run_id=run.run_id,
                agent_id=agent.agent_id,
                ts=ts,
                state="interrupted",
                reason=INTERRUPTED_REASON,
            )
        )
        events.append(
            AgentFinished(
                run_id=run.run_id,
                agent_id=agent.agent_id,
                ts=ts,
                state="interrupted",
                result=agent.result or "",
                elapsed_s=elapsed,
                attempt=agent.attempt,
            )
        )
    events.append(
        RunFinished(
            run_id=run.run_id,
            ts=ts,
            status="interrupted",
            result=run.result or "",
            cost_usd=run.cost_usd(),
        )
    )
    return events
