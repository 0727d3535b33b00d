"""Runs sub-agents: spawn, FIFO queue under a concurrency cap, timeouts, steer, kill, retry.

Everything outside this module talks to agents through the Supervisor's methods and
the events it publishes, never to asyncio tasks directly, so that agents could run
somewhere else (a workflow engine) behind the same methods later.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.agent import Agent, AgentFailed
from core.catalog import Usage
from core.config import DEFAULT_MAX_AGENTS, DEFAULT_MAX_RETRIES
from core.events import (
    TERMINAL_STATES,
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentStalled,
    AgentState,
    AgentStateChanged,
    Event,
    SteerQueued,
    TimeoutChanged,
)
from core.runner import InboxMessage

WRAP_UP_AT = 0.8
WRAP_UP_MESSAGE = "[system] Time is nearly up: stop now and report what you have."


class SupervisorError(Exception):
    """A command that cannot be carried out (unknown agent, wrong state)."""


AgentFactory = Callable[["AgentRecord"], Agent]


@dataclass
class AgentRecord:
    """The Supervisor's view of one sub-agent (its latest attempt)."""

    agent_id: str
    role: str
    model: str
    task: str
    timeout_s: float | None
    budget_usd: float | None = None  # per attempt
    token_budget: int | None = None  # per attempt
    attempt: int = 1
    state: AgentState = "queued"
    reason: str = ""
    result: str = ""
    note: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    agent: Agent | None = None
    task_handle: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reported: bool = False  # the CEO has seen this attempt's result
    prior_usage: Usage = field(default_factory=Usage)
    prior_cost: float | None = 0.0
    pending_steers: list[InboxMessage] = field(default_factory=list)
    _timers: list[asyncio.TimerHandle] = field(default_factory=list)
    _wrap_up_sent: bool = False
    _stop_state: AgentState | None = None
    _stop_reason: str | None = None
    stalled: bool = False  # a badge: no output or tool progress for a while

    @property
    def first_message(self) -> str:
        """What the agent is told first: its task, and on a retry the feedback on the last try."""
        if self.note:
            return f"{self.task}\n\nFeedback on your previous attempt: {self.note}"
        return self.task

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def usage(self) -> Usage:
        """Usage over all attempts."""
        current = self.agent.usage.total if self.agent else Usage()
        return self.prior_usage + current

    @property
    def cost_usd(self) -> float | None:
        if self.prior_cost is None:
            return None
        if self.agent is None:
            return self.prior_cost
        cost = self.agent.cost_usd
        return None if cost is None else self.prior_cost + cost

    def report(self) -> dict[str, Any]:
        u = self.usage
        cost = self.cost_usd
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "model": self.model,
            "state": self.state,
            "attempt": self.attempt,
            "result": self.result or self.reason,
            "reason": self.reason,
            "input_tokens": u.prompt_tokens,
            "output_tokens": u.output_tokens,
            "cost_usd": round(cost, 6) if cost is not None else None,
            "elapsed_s": round(self.elapsed_s, 1),
        }


class Supervisor:
    def __init__(
        self,
        *,
        run_id: str,
        emit: Callable[[Event], None],
        make_agent: AgentFactory,
        max_concurrent: int = 5,
        max_agents: int | None = DEFAULT_MAX_AGENTS,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        stall_after_s: float | None = None,
        on_finished: Callable[[AgentRecord], None] | None = None,
        on_stalled: Callable[[AgentRecord, float], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.emit = emit
        self.make_agent = make_agent
        self.max_concurrent = max_concurrent
        self.max_agents = max_agents
        self.max_retries = max_retries
        self.on_finished = on_finished
        self.stall_after_s = stall_after_s
        self.on_stalled = on_stalled
        self._stall_timer: asyncio.TimerHandle | None = None
        self.records: dict[str, AgentRecord] = {}
        self.queue: collections.deque[str] = collections.deque()
        self._counters: dict[str, int] = collections.defaultdict(int)
        self._live: set[str] = set()  # started and not yet ended
        self._closed = False
        # Why no new agent may start (the run's budget is spent); None while they may.
        self.refuse_spawns: str | None = None

    # --- queries -------------------------------------------------------------

    def get(self, agent_id: str) -> AgentRecord:
        try:
            return self.records[agent_id]
        except KeyError:
            known = ", ".join(self.records) or "none yet"
            raise SupervisorError(f"no agent {agent_id!r} (agents: {known})") from None

    @property
    def running(self) -> list[AgentRecord]:
        return [self.records[a] for a in self._live]

    def active(self) -> list[AgentRecord]:
        return [r for r in self.records.values() if not r.finished]

    # --- spawn and queue -----------------------------------------------------

    def new_id(self, role: str) -> str:
        self._counters[role] += 1
        return f"{role}-{self._counters[role]}"

    def spawn(
        self,
        role: str,
        task: str,
        model: str,
        timeout_s: float | None,
        agent_id: str | None = None,
        *,
        budget_usd: float | None = None,
        token_budget: int | None = None,
    ) -> AgentRecord:
        if self.refuse_spawns is not None:
            raise SupervisorError(self.refuse_spawns)
        if self._closed:
            raise SupervisorError("the run is shutting down")
        if self.max_agents is not None and len(self.records) >= self.max_agents:
            raise SupervisorError(
                f"the run already has {len(self.records)} agents, its limit "
                f"([limits] max_agents = {self.max_agents}); wait for results, or retry_agent "
                "an agent that ended, instead of spawning more"
            )
        record = AgentRecord(
            agent_id=agent_id or self.new_id(role),
            role=role,
            model=model,
            task=task,
            timeout_s=timeout_s,
            budget_usd=budget_usd,
            token_budget=token_budget,
        )
        self.records[record.agent_id] = record
        self._announce(record)
        self._enqueue(record)
        return record

    def restore(self, record: AgentRecord) -> None:
        """Register a finished agent from a recorded run (resume)."""
        self.records[record.agent_id] = record
        role, _, n = record.agent_id.rpartition("-")
        if n.isdigit():
            self._counters[role] = max(self._counters[role], int(n))
        record.done.set()

    def _announce(self, record: AgentRecord) -> None:
        self._emit(
            AgentSpawned,
            record,
            role=record.role,
            model=record.model,
            task=record.task,
            attempt=record.attempt,
            timeout_s=record.timeout_s,
            note=record.note,
            budget_usd=record.budget_usd,
            token_budget=record.token_budget,
        )
        self._emit(AgentStateChanged, record, state="queued")

    def _enqueue(self, record: AgentRecord) -> None:
        """Join the queue; start at once if there is room, else announce the place once.

        Only this announcement is sent: as agents ahead leave, everyone behind moves up
        by one, which readers derive (core.queue_positions), so the events stay one per
        change however long the queue is.
        """
        self.queue.append(record.agent_id)
        self._pump()
        if record.state == "queued" and self.queue and self.queue[-1] == record.agent_id:
            self._emit(AgentQueued, record, position=len(self.queue))

    def queue_position(self, agent_id: str) -> int | None:
        """1 = next to run; None when not queued."""
        if self.queue and self.queue[-1] == agent_id:
            return len(self.queue)
        try:
            return self.queue.index(agent_id) + 1
        except ValueError:
            return None

    def _pump(self) -> None:
        """Start queued agents while there is room."""
        while self.queue and len(self._live) < self.max_concurrent and not self._closed:
            record = self.records[self.queue.popleft()]
            self._start(record)

    def _start(self, record: AgentRecord) -> None:
        record.state = "running"
        record.started_at = time.monotonic()
        record.finished_at = None
        agent = self.make_agent(record)
        record.agent = agent
        self._live.add(record.agent_id)
        for steer in record.pending_steers:
            agent.post(steer)
        record.pending_steers.clear()
        self._emit(AgentStateChanged, record, state="running")
        self._arm_timers(record)
        self._watch_stalls()
        record.task_handle = asyncio.get_running_loop().create_task(
            self._run(record, agent), name=f"agent:{record.agent_id}"
        )

    async def _run(self, record: AgentRecord, agent: Agent) -> None:
        state: AgentState = "done"
        reason = ""
        result = ""
        try:
            result = await agent.run()
        except asyncio.CancelledError:
            state = record._stop_state or "killed"
            reason = record._stop_reason or {
                "timed_out": "timed out",
                "killed": "killed",
                "interrupted": "app stopped",
            }.get(state, state)
            result = agent.last_text
        except AgentFailed as exc:
            state, reason, result = "failed", exc.reason, agent.last_text
        except Exception as exc:  # a bug must end this agent, not the run
            state, reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
            result = agent.last_text
        finally:
            for timer in record._timers:
                timer.cancel()
            record._timers.clear()
        self._finish(record, state, reason, result)

    def _finish(self, record: AgentRecord, state: AgentState, reason: str, result: str) -> None:
        self._live.discard(record.agent_id)
        if record.stalled:
            record.stalled = False
            self._emit(AgentStalled, record, stalled=False, idle_s=0.0)
        record.state = state
        record.reason = reason
        record.result = result
        record.finished_at = time.monotonic()
        if record.agent is not None and record.agent.ctx.extra.get("cancel_approvals"):
            record.agent.ctx.extra["cancel_approvals"](record.agent_id)
        self._emit(AgentStateChanged, record, state=state, reason=reason)
        self._emit(
            AgentFinished,
            record,
            state=state,
            result=result or reason,
            elapsed_s=round(record.elapsed_s, 3),
            attempt=record.attempt,
        )
        record.done.set()
        if self.on_finished is not None:
            self.on_finished(record)
        self._pump()

    # --- stalls --------------------------------------------------------------

    def _watch_stalls(self) -> None:
        """Check running agents for stalls every so often while any run."""
        if self.stall_after_s is None or self._stall_timer is not None or not self._live:
            return
        interval = min(max(self.stall_after_s / 4, 0.05), 5.0)
        loop = asyncio.get_running_loop()
        self._stall_timer = loop.call_later(interval, self._check_stalls)

    def _check_stalls(self) -> None:
        self._stall_timer = None
        limit = self.stall_after_s
        if limit is None:
            return
        now = time.monotonic()
        for agent_id in list(self._live):
            record = self.records[agent_id]
            agent = record.agent
            if agent is None:
                continue
            idle = now - max(agent.last_activity, record.started_at or now)
            # Waiting for the operator's approval is not a stall: the agent waits on a human.
            stalled = idle >= limit and record.state == "running"
            if stalled and not record.stalled:
                record.stalled = True
                self._emit(AgentStalled, record, stalled=True, idle_s=round(idle, 1))
                if self.on_stalled is not None:
                    self.on_stalled(record, idle)
            elif not stalled and record.stalled:
                record.stalled = False
                self._emit(AgentStalled, record, stalled=False, idle_s=round(idle, 1))
        if not self._closed:
            self._watch_stalls()

    # --- timeouts ------------------------------------------------------------

    def _arm_timers(self, record: AgentRecord) -> None:
        for timer in record._timers:
            timer.cancel()
        record._timers.clear()
        if record.timeout_s is None or record.started_at is None:
            return
        loop = asyncio.get_running_loop()
        elapsed = record.elapsed_s
        wrap_at = record.timeout_s * WRAP_UP_AT - elapsed
        if not record._wrap_up_sent:
            record._timers.append(loop.call_later(max(0.0, wrap_at), self._wrap_up, record))
        record._timers.append(
            loop.call_later(max(0.0, record.timeout_s - elapsed), self._time_out, record)
        )

    def _wrap_up(self, record: AgentRecord) -> None:
        if record.finished or record._wrap_up_sent:
            return
        record._wrap_up_sent = True
        self.steer(record.agent_id, WRAP_UP_MESSAGE, source="timeout")

    def _time_out(self, record: AgentRecord) -> None:
        if not record.finished and record.task_handle is not None:
            record._stop_state = "timed_out"
            record.task_handle.cancel()

    def extend(self, agent_id: str, seconds: float) -> float | None:
        record = self.get(agent_id)
        if record.finished:
            raise SupervisorError(f"{agent_id} has already ended ({record.state})")
        if record.timeout_s is None:
            return None
        record.timeout_s += seconds
        if record.timeout_s * WRAP_UP_AT > record.elapsed_s:
            record._wrap_up_sent = False
        if record.state != "queued":
            self._arm_timers(record)
        self._emit(
            TimeoutChanged, record, timeout_s=record.timeout_s, reason=f"extended by {seconds:g}s"
        )
        return record.timeout_s

    # --- commands ------------------------------------------------------------

    def steer(
        self, agent_id: str, message: str, *, interrupt: bool = False, source: str = "operator"
    ) -> InboxMessage:
        record = self.get(agent_id)
        if record.finished:
            raise SupervisorError(
                f"{agent_id} has already ended ({record.state}); retry it instead"
            )
        # Sub-agents only know "the lead": steers from the CEO and the operator read alike.
        prefix = "" if source == "timeout" else "[message from the lead] "
        steer = InboxMessage(text=prefix + message, interrupt=interrupt, source=source)
        self._emit(
            SteerQueued,
            record,
            steer_id=steer.steer_id,
            message=message,
            interrupt=interrupt,
            source=source,
        )
        if record.agent is None:
            record.pending_steers.append(steer)
        else:
            record.agent.post(steer)
        return steer

    def set_waiting(self, agent_id: str, waiting: bool) -> None:
        """An agent's command waits for the operator's approval (or no longer does)."""
        record = self.records.get(agent_id)
        if record is None or record.finished:
            return
        record.state = "waiting_approval" if waiting else "running"
        self._emit(AgentStateChanged, record, state=record.state)

    async def kill(
        self, agent_id: str, state: AgentState = "killed", reason: str | None = None
    ) -> AgentState:
        """Stop an agent; it ends as `state` (with `reason`, or the state's usual one)."""
        record = self.get(agent_id)
        if record.finished:
            return record.state
        if record.state == "queued" or record.task_handle is None:
            with contextlib.suppress(ValueError):
                self.queue.remove(agent_id)
            default = "killed before it started" if state == "killed" else state
            self._finish(record, state, reason or default, "")
            return record.state
        record._stop_state = state
        record._stop_reason = reason
        record.task_handle.cancel()
        await record.done.wait()
        return record.state

    def retry(
        self,
        agent_id: str,
        note: str | None = None,
        model: str | None = None,
        *,
        limited: bool = True,
    ) -> AgentRecord:
        """A new attempt of an ended agent. `limited` (the CEO's retries) enforces
        `max_retries`; the operator's own retries are not limited."""
        record = self.get(agent_id)
        if not record.finished:
            raise SupervisorError(f"{agent_id} is still {record.state}; kill it first")
        if self.refuse_spawns is not None:
            raise SupervisorError(self.refuse_spawns)
        if self._closed:
            raise SupervisorError("the run is shutting down")
        retries = record.attempt - 1
        if limited and self.max_retries is not None and retries >= self.max_retries:
            raise SupervisorError(
                f"{agent_id} was already retried {retries} times, its limit ([limits] "
                f"max_retries = {self.max_retries}); report what is left to the operator, "
                "or spawn a fresh agent with a different approach"
            )
        record.prior_usage = record.usage
        record.prior_cost = record.cost_usd
        record.agent = None
        record.task_handle = None
        record.attempt += 1
        record.model = model or record.model
        record.note = note
        record.state = "queued"
        record.reason = ""
        record.result = ""
        record.started_at = None
        record.finished_at = None
        record.reported = False
        record._wrap_up_sent = False
        record._stop_state = None
        record._stop_reason = None
        record.done = asyncio.Event()
        self._announce(record)
        self._enqueue(record)
        return record

    async def wait(
        self,
        agent_ids: Iterable[str],
        timeout_s: float | None = None,
        wake: asyncio.Event | None = None,
    ) -> list[AgentRecord]:
        """Wait until the agents end, the timeout passes, or `wake` is set."""
        records = [self.get(a) for a in agent_ids]
        waits = [asyncio.ensure_future(r.done.wait()) for r in records if not r.done.is_set()]
        if wake is not None and waits:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            pending = set(waits)
            while pending and not all(r.done.is_set() for r in records):
                if wake is not None and wake.is_set():
                    break
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if remaining == 0.0:
                    break
                _, pending = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            for w in waits:
                w.cancel()
        return records

    async def shutdown(self, state: AgentState = "killed") -> None:
        """Stop every agent (queued ones too); used when the run ends or the app quits."""
        self._closed = True
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        for agent_id in list(self.queue):
            await self.kill(agent_id, state)
        for record in list(self.records.values()):
            if not record.finished:
                await self.kill(record.agent_id, state)

    def _emit(self, cls: type[Event], record: AgentRecord, **fields: Any) -> None:
        self.emit(cls(run_id=self.run_id, agent_id=record.agent_id, **fields))
