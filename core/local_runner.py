"""LocalRunner: each attempt is an asyncio task in this process (see core.runner)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from core.agent import Agent, AgentFailed, Emit
from core.events import AgentState
from core.runner import (
    STOP_REASONS,
    AttemptHooks,
    AttemptOutcome,
    AttemptProgress,
    AttemptSpec,
    Deadline,
    InboxMessage,
    SteerReceipt,
    StopState,
)

# Builds the attempt's agent, its first message already in its conversation; every
# event it emits goes to `emit`.
AgentFactory = Callable[[AttemptSpec, Emit], Agent]


class LocalRunner:
    """Runs every attempt as a task on the running loop; kill is task cancellation."""

    def __init__(self, make_agent: AgentFactory, emit: Emit) -> None:
        self.make_agent = make_agent
        self.emit = emit

    def start(self, spec: AttemptSpec, hooks: AttemptHooks) -> LocalAttempt:
        return LocalAttempt(spec, self.make_agent(spec, self.emit), hooks)

    async def aclose(self) -> None:
        return None


class LocalAttempt:
    """One attempt running as an asyncio task; `agent` is its conversation and loop."""

    def __init__(self, spec: AttemptSpec, agent: Agent, hooks: AttemptHooks) -> None:
        self._spec = spec
        self.agent = agent
        self._hooks = hooks
        self._started = time.monotonic()
        self._timers: list[asyncio.TimerHandle] = []
        self._stop_state: StopState | None = None
        self._stop_reason: str | None = None
        self._outcome: AttemptOutcome | None = None
        self._ended = asyncio.Event()
        for steer in spec.steers:
            agent.post(steer)
        self.set_deadline(spec.deadline)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"agent:{spec.agent_id}"
        )
        self._task.add_done_callback(self._never_ran)

    @property
    def spec(self) -> AttemptSpec:
        return self._spec

    @property
    def ended(self) -> bool:
        return self._outcome is not None

    def steer(self, message: InboxMessage) -> SteerReceipt:
        self.agent.post(message)
        return SteerReceipt(message.steer_id, self._spec.agent_id)

    def set_deadline(self, deadline: Deadline) -> None:
        self._cancel_timers()
        if self._outcome is not None:
            return
        loop = asyncio.get_running_loop()
        elapsed = time.monotonic() - self._started
        if deadline.wrap_up_s is not None:
            delay = max(0.0, deadline.wrap_up_s - elapsed)
            self._timers.append(loop.call_later(delay, self._hooks.on_wrap_up))
        if deadline.timeout_s is not None:
            delay = max(0.0, deadline.timeout_s - elapsed)
            self._timers.append(loop.call_later(delay, self._stop, "timed_out", None))

    def _stop(self, state: StopState, reason: str | None) -> None:
        # Asked from inside its own turn (a refused key): it ends by the error it raises.
        if self._task.done() or self._task is asyncio.current_task():
            return
        self._stop_state = state
        self._stop_reason = reason
        self._task.cancel()

    async def cancel(self, state: StopState, reason: str | None = None) -> AttemptOutcome:
        self._stop(state, reason)
        return await self.wait()

    def progress(self) -> AttemptProgress:
        agent = self.agent
        return AttemptProgress(
            usage=agent.usage.total,
            cost_usd=agent.cost_usd,
            idle_s=max(0.0, time.monotonic() - max(agent.last_activity, self._started)),
            last_tool=agent.last_tool,
        )

    async def wait(self) -> AttemptOutcome:
        await self._ended.wait()
        assert self._outcome is not None
        return self._outcome

    def _never_ran(self, task: asyncio.Task[None]) -> None:
        """Stopped before its first step, `_run` never ran: its end is still reported once."""
        if self._outcome is None:
            state = self._stop_state or "killed"
            self._end(state, self._stop_reason or STOP_REASONS.get(state, state), "")

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def _run(self) -> None:
        agent = self.agent
        state: AgentState = "done"
        reason = ""
        result = ""
        try:
            result = await agent.run()
        except asyncio.CancelledError:
            state = self._stop_state or "killed"
            reason = self._stop_reason or STOP_REASONS.get(state, state)
            result = agent.last_text
        except AgentFailed as exc:
            state, reason, result = "failed", exc.reason, agent.last_text
        except Exception as exc:  # a bug must end this agent, not the run
            state, reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
            result = agent.last_text
        finally:
            self._cancel_timers()
        self._end(state, reason, result)

    def _end(self, state: AgentState, reason: str, result: str) -> None:
        self._cancel_timers()
        agent = self.agent
        self._outcome = AttemptOutcome(
            state=state,
            reason=reason,
            result=result,
            usage=agent.usage.total,
            cost_usd=agent.cost_usd,
        )
        try:
            self._hooks.on_end(self._outcome)
        finally:
            self._ended.set()
