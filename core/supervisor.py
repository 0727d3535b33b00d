"""Runs sub-agents: spawn, FIFO queue under a concurrency cap, timeouts, steer, kill, retry.

The Supervisor keeps the policy (queue, cap, limits, when an attempt wraps up and times
out, retries) and talks to running attempts only through an `AgentRunner`
(core.runner): everything outside it talks to agents through the Supervisor's methods
and the events it publishes, so agents can run elsewhere behind the same methods.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.agent_summary import AgentSummary
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
from core.runner import (
    AgentRunner,
    Attempt,
    AttemptHooks,
    AttemptOutcome,
    AttemptSpec,
    Deadline,
    InboxMessage,
    SteerReceipt,
    StopState,
)

WRAP_UP_AT = 0.8
WRAP_UP_MESSAGE = "[system] Time is nearly up: stop now and report what you have."


class SupervisorError(Exception):
    """A command that cannot be carried out (unknown agent, wrong state)."""


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
    handle: Attempt | None = None  # the latest attempt, once it started
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reported: bool = False  # the CEO has seen this attempt's result
    prior_usage: Usage = field(default_factory=Usage)
    prior_cost: float | None = 0.0
    pending_steers: list[InboxMessage] = field(default_factory=list)
    _wrap_up_sent: bool = False
    stalled: bool = False  # a badge: no output or tool progress for a while
    # The timeout clock stands still while a command waits for the operator's approval.
    waited_s: float = 0.0  # time spent waiting for approval (earlier waits of this attempt)
    waiting_since: float | None = None  # when the current wait began
    _waits: int = 0  # approvals this agent waits on now
    _wait_ended: float | None = None  # time.monotonic() when its last wait ended (stalls)
    clock: Callable[[], float] = time.monotonic

    @property
    def first_message(self) -> str:
        """What the agent is told first: its task, and on a retry the feedback on the last try."""
        if self.note:
            return f"{self.task}\n\nFeedback on your previous attempt: {self.note}"
        return self.task

    @property
    def elapsed_s(self) -> float:
        """The agent's own time (its timeout clock): waits for the operator's approval
        are not counted."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else self.clock()
        waiting = end - self.waiting_since if self.waiting_since is not None else 0.0
        return max(0.0, end - self.started_at - self.waited_s - waiting)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def usage(self) -> Usage:
        """Usage over all attempts."""
        current = self.handle.progress().usage if self.handle else Usage()
        return self.prior_usage + current

    @property
    def cost_usd(self) -> float | None:
        if self.prior_cost is None:
            return None
        if self.handle is None:
            return self.prior_cost
        cost = self.handle.progress().cost_usd
        return None if cost is None else self.prior_cost + cost

    @property
    def last_tool(self) -> str:
        """The summary of the latest attempt's last tool call ("" before any)."""
        return self.handle.progress().last_tool if self.handle else ""

    def summary(self) -> AgentSummary:
        """The agent now, in the shape the store and the TUI give it too."""
        u = self.usage
        return AgentSummary(
            agent_id=self.agent_id,
            role=self.role,
            model=self.model,
            task=self.task,
            state=self.state,
            attempt=self.attempt,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens,
            cost_usd=self.cost_usd,
            elapsed_s=self.elapsed_s,
            timeout_s=self.timeout_s,
            result=self.result if self.finished else None,
        )

    def report(self) -> dict[str, Any]:
        """The agent for the CEO (its tools' JSON): prompt tokens in one figure, the reason
        standing in for a result it did not give, figures rounded."""
        s = self.summary()
        return {
            "agent_id": s.agent_id,
            "role": s.role,
            "model": s.model,
            "state": s.state,
            "attempt": s.attempt,
            "result": self.result or self.reason,
            "reason": self.reason,
            "input_tokens": s.usage.prompt_tokens,
            "output_tokens": s.output_tokens,
            "cost_usd": round(s.cost_usd, 6) if s.cost_usd is not None else None,
            "elapsed_s": round(self.elapsed_s, 1),
        }


class Supervisor:
    def __init__(
        self,
        *,
        run_id: str,
        emit: Callable[[Event], None],
        runner: AgentRunner,
        max_concurrent: int = 5,
        max_agents: int | None = DEFAULT_MAX_AGENTS,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        stall_after_s: float | None = None,
        on_finished: Callable[[AgentRecord], None] | None = None,
        on_stalled: Callable[[AgentRecord, float], None] | None = None,
        on_ending: Callable[[AgentRecord], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id = run_id
        self.clock = clock
        self.emit = emit
        self.runner = runner
        # Called as a started attempt ends, before its end is announced (the Session
        # drops the approvals it was waiting for).
        self.on_ending = on_ending
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

    def agents(self) -> list[AgentRecord]:
        """Every agent of the run, in spawn order."""
        return list(self.records.values())

    def unreported(self) -> list[AgentRecord]:
        """The agents still to wait for: not ended, or ended with a result not reported."""
        return [r for r in self.records.values() if not r.finished or not r.reported]

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
            clock=self.clock,
        )
        self.records[record.agent_id] = record
        self._announce(record)
        self._enqueue(record)
        return record

    def restore(
        self,
        agent: AgentSummary,
        *,
        state: AgentState,
        budget_usd: float | None = None,
        token_budget: int | None = None,
    ) -> AgentRecord:
        """Register an agent of a recorded run (resume) as it was recorded, ended in
        `state`: its result already reported, its usage counted; it can be retried."""
        record = AgentRecord(
            agent_id=agent.agent_id,
            role=agent.role,
            model=agent.model,
            task=agent.task,
            timeout_s=agent.timeout_s,
            budget_usd=budget_usd,
            token_budget=token_budget,
            attempt=agent.attempt,
            state=state,
            result=agent.result or "",
            reported=True,
            prior_usage=agent.usage,
            prior_cost=agent.cost_usd,
        )
        self.records[record.agent_id] = record
        role, _, n = record.agent_id.rpartition("-")
        if n.isdigit():
            self._counters[role] = max(self._counters[role], int(n))
        record.done.set()
        return record

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

    def adopt(
        self, record: AgentRecord, attach: Callable[[AttemptSpec, AttemptHooks], Attempt]
    ) -> None:
        """Register an agent of a recorded run whose attempt still runs elsewhere (a
        durable runner's workflow, resume) and follow it there through `attach`."""
        self.records[record.agent_id] = record
        role, _, n = record.agent_id.rpartition("-")
        if n.isdigit():
            self._counters[role] = max(self._counters[role], int(n))
        record.done = asyncio.Event()
        self._start(record, attach)

    def _start(
        self,
        record: AgentRecord,
        attach: Callable[[AttemptSpec, AttemptHooks], Attempt] | None = None,
    ) -> None:
        record.state = "running"
        record.started_at = self.clock()
        record.finished_at = None
        record.waited_s, record.waiting_since, record._waits = 0.0, None, 0
        self._live.add(record.agent_id)
        spec = AttemptSpec(
            run_id=self.run_id,
            agent_id=record.agent_id,
            role=record.role,
            model=record.model,
            attempt=record.attempt,
            first_message=record.first_message,
            deadline=self._deadline(record),
            budget_usd=record.budget_usd,
            token_budget=record.token_budget,
            steers=tuple(record.pending_steers),
        )
        record.pending_steers.clear()

        def ended(outcome: AttemptOutcome) -> None:
            self._finish(record, outcome.state, outcome.reason, outcome.result)

        hooks = AttemptHooks(on_end=ended, on_wrap_up=lambda: self._wrap_up(record))
        record.handle = (attach or self.runner.start)(spec, hooks)
        self._emit(AgentStateChanged, record, state="running")
        self._watch_stalls()

    def _finish(self, record: AgentRecord, state: AgentState, reason: str, result: str) -> None:
        self._live.discard(record.agent_id)
        if record.stalled:
            record.stalled = False
            self._emit(AgentStalled, record, stalled=False, idle_s=0.0)
        record.state = state
        record.reason = reason
        record.result = result
        record.finished_at = self.clock()
        if record.waiting_since is not None:  # ended while it waited: the wait is over
            record.waited_s += record.finished_at - record.waiting_since
            record.waiting_since = None
        record._waits = 0
        if record.handle is not None and self.on_ending is not None:
            self.on_ending(record)
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
            if record.handle is None:
                continue
            idle = min(record.handle.progress().idle_s, now - (record.started_at or now))
            if record._wait_ended is not None:
                idle = min(idle, now - record._wait_ended)
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

    def _deadline(self, record: AgentRecord) -> Deadline:
        """The attempt's deadline: wrap up at WRAP_UP_AT of the timeout (once), stop at it.

        Measured in the agent's own time: none while it waits for the operator's approval,
        and after that wait later by as long as it waited (the runner counts from start).
        """
        if record.timeout_s is None or record.waiting_since is not None:
            return Deadline()
        wrap_up = None if record._wrap_up_sent else record.timeout_s * WRAP_UP_AT
        shift = record.waited_s
        return Deadline(
            timeout_s=record.timeout_s + shift,
            wrap_up_s=None if wrap_up is None else wrap_up + shift,
        )

    def _wrap_up(self, record: AgentRecord) -> None:
        if record.finished or record._wrap_up_sent:
            return
        record._wrap_up_sent = True
        self.steer(record.agent_id, WRAP_UP_MESSAGE, source="timeout")

    def extend(self, agent_id: str, seconds: float) -> float | None:
        record = self.get(agent_id)
        if record.finished:
            raise SupervisorError(f"{agent_id} has already ended ({record.state})")
        if record.timeout_s is None:
            return None
        record.timeout_s += seconds
        if record.timeout_s * WRAP_UP_AT > record.elapsed_s:
            record._wrap_up_sent = False
        if record.handle is not None:
            record.handle.set_deadline(self._deadline(record))
        self._emit(
            TimeoutChanged, record, timeout_s=record.timeout_s, reason=f"extended by {seconds:g}s"
        )
        return record.timeout_s

    # --- commands ------------------------------------------------------------

    def steer(
        self, agent_id: str, message: str, *, interrupt: bool = False, source: str = "operator"
    ) -> SteerReceipt:
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
        if record.handle is None:
            record.pending_steers.append(steer)
            return SteerReceipt(steer.steer_id, agent_id)
        return record.handle.steer(steer)

    def notify(self, agent_id: str, text: str, source: str = "system") -> bool:
        """A notice for a running agent at its next turn boundary, with no receipt.
        False when the agent is not running (queued or ended)."""
        record = self.records.get(agent_id)
        if record is None or record.handle is None or record.finished:
            return False
        record.handle.steer(InboxMessage(text=text, source=source, silent=True))
        return True

    def set_waiting(self, agent_id: str, waiting: bool) -> None:
        """An agent's command waits for the operator's approval (or no longer does).

        Its timeout clock stops while it waits: waiting on a person does not eat its time.
        """
        record = self.records.get(agent_id)
        if record is None or record.finished:
            return
        record._waits = max(0, record._waits + (1 if waiting else -1))
        if (record._waits > 0) == (record.state == "waiting_approval"):
            return  # a second request of the same agent, or one of several answered
        now = self.clock()
        if record._waits > 0:
            record.waiting_since = now
            record.state = "waiting_approval"
        else:
            if record.waiting_since is not None:
                record.waited_s += now - record.waiting_since
                record.waiting_since = None
            record.state = "running"
            record._wait_ended = time.monotonic()  # the wait was the operator's, not a stall
        if record.handle is not None:
            record.handle.set_deadline(self._deadline(record))
        self._emit(AgentStateChanged, record, state=record.state)

    async def kill(
        self, agent_id: str, state: StopState = "killed", reason: str | None = None
    ) -> AgentState:
        """Stop an agent; it ends as `state` (with `reason`, or the state's usual one)."""
        record = self.get(agent_id)
        if record.finished:
            return record.state
        if record.state == "queued" or record.handle is None:
            with contextlib.suppress(ValueError):
                self.queue.remove(agent_id)
            default = f"{state} before it started" if state in ("killed", "stopped") else state
            self._finish(record, state, reason or default, "")
            return record.state
        await record.handle.cancel(state, reason)
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
        record.handle = None
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
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        # A waiter on each record's current `done`: a retry while this waits gives the
        # agent a new one, which is followed from then on (not the ended attempt's).
        watched: dict[int, tuple[asyncio.Event, asyncio.Future[Any]]] = {}
        woken = asyncio.ensure_future(wake.wait()) if wake is not None else None
        try:
            while not all(r.done.is_set() for r in records):
                if wake is not None and wake.is_set():
                    break
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if remaining == 0.0:
                    break
                for i, r in enumerate(records):
                    got = watched.get(i)
                    if not r.done.is_set() and (got is None or got[0] is not r.done):
                        if got is not None:
                            got[1].cancel()
                        watched[i] = (r.done, asyncio.ensure_future(r.done.wait()))
                pending = [f for _, f in watched.values() if not f.done()]
                if woken is not None:
                    pending.append(woken)
                await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for _, f in watched.values():
                f.cancel()
            if woken is not None:
                woken.cancel()
        return records

    async def shutdown(self, state: StopState = "killed") -> None:
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
