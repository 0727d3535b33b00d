"""A runner whose attempts are not tasks of the Session's loop: each runs on a worker
thread with its own event loop, and every call, event and hook crosses between the two
loops the way a remote runner's would (see core.runner's rules).

The tests' scripted models live on the test's loop (they wait on its events), so the
agent's model client is bridged back to that loop: the turn runs there, its stream
callbacks come back to the worker loop in order. Tools (commands, files) run on the
worker loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from core.agent import Agent, AgentFailed, Emit
from core.catalog import Usage
from core.events import AgentState, Event
from core.llm import TurnRequest, TurnResult, TurnSink
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

# Builds an attempt's agent on the worker loop, with the model client it must use.
ThreadAgentFactory = Callable[[AttemptSpec, Emit, Any], Agent]


class _RelaySink:
    """The turn's stream callbacks, called on the model's loop, run on the agent's loop."""

    def __init__(self, sink: TurnSink, loop: asyncio.AbstractEventLoop) -> None:
        self._sink = sink
        self._loop = loop

    def _relay(self, name: str, *args: Any) -> None:
        self._loop.call_soon_threadsafe(getattr(self._sink, name), *args)

    def on_text(self, text: str) -> None:
        self._relay("on_text", text)

    def on_thinking(self, text: str) -> None:
        self._relay("on_thinking", text)

    def on_tool_use(self, tool_use_id: str, name: str) -> None:
        self._relay("on_tool_use", tool_use_id, name)

    def on_tool_input(self, partial_json: str) -> None:
        self._relay("on_tool_input", partial_json)

    def on_usage(self, usage: Usage) -> None:
        self._relay("on_usage", usage)

    def on_retry(self, try_number: int, delay_s: float, reason: str) -> None:
        self._relay("on_retry", try_number, delay_s, reason)


class BridgedModel:
    """A model client for an agent on the worker loop whose model runs on `home`."""

    def __init__(self, model: Any, home: asyncio.AbstractEventLoop) -> None:
        self.model = model
        self.home = home

    async def stream_turn(self, request: TurnRequest, sink: TurnSink) -> TurnResult:
        relay = _RelaySink(sink, asyncio.get_running_loop())
        future = asyncio.run_coroutine_threadsafe(self.model.stream_turn(request, relay), self.home)
        try:
            result: TurnResult = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise
        return result


class ThreadRunner:
    """Runs attempts on one worker thread with its own loop; `aclose` stops it."""

    def __init__(self, make_agent: ThreadAgentFactory, emit: Emit, model: Any) -> None:
        self.make_agent = make_agent
        self.emit = emit
        self.home = asyncio.get_running_loop()
        self.model = model
        self.loop = asyncio.new_event_loop()
        self.attempts: list[ThreadAttempt] = []
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="thread-runner", daemon=True
        )
        self._thread.start()

    def start(self, spec: AttemptSpec, hooks: AttemptHooks) -> ThreadAttempt:
        attempt = ThreadAttempt(self, spec, hooks)
        self.attempts.append(attempt)
        return attempt

    async def aclose(self) -> None:
        for attempt in self.attempts:
            if not attempt.ended:
                await attempt.cancel("killed")

        def stop() -> None:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        await asyncio.to_thread(self._thread.join, 5)
        self.loop.close()


class ThreadAttempt:
    """One attempt: the public methods run on the home loop, the `_`-prefixed worker
    methods on the worker loop; nothing else is shared but a locked progress snapshot."""

    def __init__(self, runner: ThreadRunner, spec: AttemptSpec, hooks: AttemptHooks) -> None:
        self._runner = runner
        self._spec = spec
        self._hooks = hooks
        self._outcome: AttemptOutcome | None = None
        self._ended = asyncio.Event()  # home loop
        self._lock = threading.Lock()
        self._snapshot = AttemptProgress(Usage(), 0.0, 0.0)
        self._activity = self._started = time.monotonic()
        # Worker-loop state.
        self._agent: Agent | None = None
        self._task: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._stop_state: StopState | None = None
        self._stop_reason: str | None = None
        runner.loop.call_soon_threadsafe(self._begin)

    # --- home loop -----------------------------------------------------------

    @property
    def spec(self) -> AttemptSpec:
        return self._spec

    @property
    def ended(self) -> bool:
        return self._outcome is not None

    def steer(self, message: InboxMessage) -> SteerReceipt:
        self._runner.loop.call_soon_threadsafe(self._post, message)
        return SteerReceipt(message.steer_id, self._spec.agent_id)

    def set_deadline(self, deadline: Deadline) -> None:
        self._runner.loop.call_soon_threadsafe(self._arm, deadline)

    async def cancel(self, state: StopState, reason: str | None = None) -> AttemptOutcome:
        self._runner.loop.call_soon_threadsafe(self._stop, state, reason)
        return await self.wait()

    def progress(self) -> AttemptProgress:
        with self._lock:
            snap, activity = self._snapshot, self._activity
        idle = max(0.0, time.monotonic() - activity)
        return AttemptProgress(snap.usage, snap.cost_usd, idle, snap.last_tool)

    async def wait(self) -> AttemptOutcome:
        await self._ended.wait()
        assert self._outcome is not None
        return self._outcome

    def _end(self, outcome: AttemptOutcome) -> None:
        self._outcome = outcome
        try:
            self._hooks.on_end(outcome)
        finally:
            self._ended.set()

    # --- worker loop ---------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._take_snapshot()
        self._runner.home.call_soon_threadsafe(self._runner.emit, event)

    def _take_snapshot(self) -> None:
        agent = self._agent
        if agent is None:
            return
        snap = AttemptProgress(agent.usage.total, agent.cost_usd, 0.0, agent.last_tool)
        with self._lock:
            self._snapshot = snap
            self._activity = max(agent.last_activity, self._started)

    def _begin(self) -> None:
        client = BridgedModel(self._runner.model, self._runner.home)
        self._started = time.monotonic()
        self._agent = self._runner.make_agent(self._spec, self._emit, client)
        for steer in self._spec.steers:
            self._agent.post(steer)
        self._task = self._runner.loop.create_task(self._run())
        self._task.add_done_callback(self._never_ran)
        self._arm(self._spec.deadline)

    def _never_ran(self, task: asyncio.Task[None]) -> None:
        """Stopped before its first step, `_run` never ran: its end is still reported."""
        agent = self._agent
        if task.cancelled() and self._outcome is None and agent is not None:
            state = self._stop_state or "killed"
            reason = self._stop_reason or STOP_REASONS.get(state, state)
            outcome = AttemptOutcome(state, reason, "", agent.usage.total, agent.cost_usd)
            self._runner.home.call_soon_threadsafe(self._end, outcome)

    def _post(self, message: InboxMessage) -> None:
        if self._agent is not None and self._task is not None and not self._task.done():
            self._agent.post(message)

    def _arm(self, deadline: Deadline) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._task is None or self._task.done():
            return
        loop = self._runner.loop
        home = self._runner.home
        elapsed = time.monotonic() - self._started
        if deadline.wrap_up_s is not None:
            self._timers.append(
                loop.call_later(
                    max(0.0, deadline.wrap_up_s - elapsed),
                    home.call_soon_threadsafe,
                    self._hooks.on_wrap_up,
                )
            )
        if deadline.timeout_s is not None:
            self._timers.append(
                loop.call_later(
                    max(0.0, deadline.timeout_s - elapsed), self._stop, "timed_out", None
                )
            )

    def _stop(self, state: StopState, reason: str | None) -> None:
        if self._task is None or self._task.done():
            return
        self._stop_state, self._stop_reason = state, reason
        self._task.cancel()

    async def _run(self) -> None:
        agent = self._agent
        assert agent is not None
        state: AgentState = "done"
        reason = result = ""
        try:
            result = await agent.run()
        except asyncio.CancelledError:
            state = self._stop_state or "killed"
            reason = self._stop_reason or STOP_REASONS.get(state, state)
            result = agent.last_text
        except AgentFailed as exc:
            state, reason, result = "failed", exc.reason, agent.last_text
        finally:
            for timer in self._timers:
                timer.cancel()
        self._take_snapshot()
        outcome = AttemptOutcome(state, reason, result, agent.usage.total, agent.cost_usd)
        self._runner.home.call_soon_threadsafe(self._end, outcome)
