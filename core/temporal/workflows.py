"""The run workflow and the agent-attempt child workflow (the turn loop).

Workflow code is replayed from history, so it is deterministic: no I/O, clock or
randomness outside `workflow.*`. Each model turn and each tool call is an activity
(core.temporal.activities) on the workspace's task queue; this module only decides
what comes next: tools after a tool_use reply, steers at the turn boundary, the
timeout (a workflow timer that `extend` moves), the budget and turn limits, and
`continue_as_new` before the history grows past its limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from core.temporal.types import (
        APPROVAL_NEEDED,
        ATTEMPT_WORKFLOW,
        MODEL_TURN,
        RUN_WORKFLOW,
        TOOL_CALL,
        Approval,
        AttemptInfo,
        AttemptInput,
        AttemptResult,
        Carry,
        Hub,
        RunRecord,
        Steer,
        SteerReceipt,
        ToolInput,
        TurnInput,
        TurnOutput,
        UsageTotals,
        run_workflow_id,
    )

# `workflow.patched` id: attempts since then leave their end to the session to tell
# (attempts whose input says `ends_told` do not ask).
ENDS_TOLD_BY_SESSION = "attempt-end-told-by-session"

# A turn streams for minutes at most; a worker that died is noticed when its heartbeats
# (every 100 ms) stop for this long, and the activity runs again elsewhere.
TURN_TIMEOUT = timedelta(minutes=30)
TOOL_TIMEOUT = timedelta(minutes=15)
HEARTBEAT_TIMEOUT = timedelta(seconds=3)
# Activities are at least once: a worker that dies mid-call gets the call run again.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)


class _Stop(Exception):
    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


@workflow.defn(name=ATTEMPT_WORKFLOW)
class AttemptWorkflow:
    """One agent attempt: model turn -> tool calls -> model turn, until it answers."""

    def __init__(self) -> None:
        self.inp: AttemptInput | None = None
        self.carry = Carry()
        self.stop: tuple[str, str] | None = None
        self.timeout_s: float | None = None
        self.moved = False  # the timeout changed: re-arm the timer
        self.extended = False  # an `extend` came (it may arrive before `run` starts)
        self.turn_activity: asyncio.Task[Any] | None = None
        self.interrupting = False
        self.started_at = workflow.now()
        # Tool calls waiting for the operator's approval (request id -> its request), and
        # the answers that came.
        self.asking: dict[str, dict[str, Any]] = {}
        self.answers: dict[str, str] = {}

    def _stopping(self) -> None:
        if self.stop is not None:
            raise asyncio.CancelledError()

    # --- commands (signals and updates) ---------------------------------------

    @workflow.update
    def steer(self, steer: Steer) -> SteerReceipt:
        """Queue a steer for the next turn boundary; the receipt says it was accepted."""
        if self.stop is not None:
            return SteerReceipt(steer.steer_id, False, self.carry.turn, "the agent is stopping")
        self.carry.pending.append(steer)
        task = self.turn_activity
        if steer.interrupt and task is not None and not task.done():
            self.interrupting = True
            task.cancel()
        return SteerReceipt(steer.steer_id, True, self.carry.turn)

    @workflow.signal
    def stop_as(self, state: str, reason: str) -> None:
        """End the attempt as `state` (killed, timed_out, interrupted) with `reason`."""
        if self.stop is None:
            self.stop = (state, reason)

    @workflow.signal
    def extend(self, timeout_s: float | None) -> None:
        """The attempt's timeout is now `timeout_s` from its start (None: none)."""
        self.timeout_s = timeout_s
        self.moved = True
        self.extended = True

    @workflow.update
    def approve(self, answer: Approval) -> bool:
        """The operator answered a request of this attempt: its call runs again with the
        answer (True: it was waiting for it)."""
        self.answers[answer.request_id] = answer.decision
        if answer.allow is not None:
            self.allow(answer.allow)
        return answer.request_id in self.asking

    def answered(self, request_id: str) -> bool:
        return request_id in self.answers

    @workflow.signal
    def allow(self, allow: list[str]) -> None:
        """The session's allow list changed (an operator's `always`): later calls use it."""
        if self.inp is not None:
            self.inp.policy.allow = list(allow)

    @workflow.signal
    def set_hub(self, hub: Hub) -> None:
        """A session reattached (resumed) with its own hub: the next activities publish
        there."""
        if self.inp is not None:
            self.inp.hub = hub

    @workflow.query
    def hub(self) -> Hub | None:
        """Where this attempt's events go now (a resumed session's hub after `set_hub`)."""
        return self.inp.hub if self.inp is not None else None

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {
            "turn": self.carry.turn,
            "timeout_s": self.timeout_s,
            "usage": self.carry.usage,
            "asking": list(self.asking.values()),
        }

    # --- the attempt ----------------------------------------------------------

    @workflow.run
    async def run(self, inp: AttemptInput) -> AttemptResult:
        # The run workflow hears of the end from the session (TemporalRunner): a signal
        # sent from here cost the attempt one more workflow task round trip (its end came
        # 0.3-0.9 s after its last turn), and one sent with the result is dropped.
        result = await self._run(inp)
        if not (inp.ends_told or workflow.patched(ENDS_TOLD_BY_SESSION)):
            # An attempt started before that change (no `ends_told`, no marker) replays
            # the signal it sent then, so a run in flight across an upgrade goes on.
            run = workflow.get_external_workflow_handle(run_workflow_id(inp.id_prefix, inp.run_id))
            with contextlib.suppress(ApplicationError, CancelledError):  # no run workflow: fine
                await run.signal("attempt_ended", args=[workflow.info().workflow_id, result.state])
        return result

    async def _run(self, inp: AttemptInput) -> AttemptResult:
        self.inp = inp
        self.started_at = workflow.now()
        self.carry = inp.carry
        if not self.extended:  # a signal handled in the first activation ran before this
            self.timeout_s = inp.timeout_s
        loop = asyncio.ensure_future(self._loop(inp))
        try:
            await self._watch(loop)
        except asyncio.CancelledError:  # the workflow was cancelled from outside: a kill
            if self.stop is None:
                self.stop = ("killed", "killed")
        if self.stop is not None and not loop.done():
            loop.cancel()
        try:
            text = await loop
        except _Stop as stop:
            return self._result(stop.state, stop.reason)
        except (asyncio.CancelledError, CancelledError):
            state, reason = self.stop or ("killed", "killed")
            return self._result(state, reason)
        return self._result("done", "", text)

    async def _watch(self, loop: asyncio.Future[str]) -> None:
        """Until the loop ends or a stop is asked: the timeout is this workflow's own timer
        (durable: it fires with no session attached); `extend` moves it."""
        while not loop.done() and self.stop is None:
            self.moved = False
            wait = None if self.timeout_s is None else max(0.001, self.timeout_s - self._elapsed())
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: loop.done() or self.stop is not None or self.moved,
                    timeout=wait,
                )
            timeout = self.timeout_s
            due = timeout is not None and self._elapsed() >= timeout
            if due and self.stop is None and not loop.done():
                self.stop = ("timed_out", "timed out")

    def _elapsed(self) -> float:
        return self.carry.elapsed_s + (workflow.now() - self.started_at).total_seconds()

    def _result(self, state: str, reason: str, text: str | None = None) -> AttemptResult:
        return AttemptResult(
            state=state,
            result=text if text is not None else self.carry.last_text,
            reason=reason,
            turns=self.carry.turn,
            usage=self.carry.usage,
        )

    async def _loop(self, inp: AttemptInput) -> str:
        carry = self.carry
        while True:
            self._stopping()
            self._check_limits(inp)
            if self._history_full(inp):
                carry.elapsed_s = self._elapsed()
                workflow.continue_as_new(
                    AttemptInput(**{**inp.__dict__, "carry": carry, "timeout_s": self.timeout_s})
                )
            carry.turn += 1
            steers, carry.pending = carry.pending, []
            out = await self._model_turn(inp, steers)
            if out is None:  # interrupted by a steer: deliver it at once
                continue
            carry.usage = out.usage
            carry.warned = out.warned
            carry.cuts_in_a_row = out.cuts_in_a_row
            if out.last_text:
                carry.last_text = out.last_text
            carry.pending.extend(out.notes)
            if out.stopped and self.stop is None:  # by the hub, ahead of its signal
                self.stop = (out.stopped[0], out.stopped[1])
            self._stopping()
            if out.failed is not None:
                raise _Stop("failed", out.failed)
            if out.calls or out.cut_notice is not None:
                results = await self._tools(inp, out.calls)
                self._stopping()
                carry.append = [*results, *([out.cut_notice] if out.cut_notice else [])]
                continue
            if out.stop_reason == "pause_turn":
                continue
            if out.stop_reason == "refusal":
                raise _Stop("failed", "the model refused to continue")
            if carry.pending:  # steers came while it answered: one more turn
                continue
            return carry.last_text

    def _check_limits(self, inp: AttemptInput) -> None:
        usage = self.carry.usage
        if inp.budget_usd is not None and (usage.cost_usd or 0.0) >= inp.budget_usd:
            raise _Stop("failed", f"budget of ${inp.budget_usd:g} spent")
        tokens = (
            usage.input_tokens
            + usage.output_tokens
            + usage.cache_read_tokens
            + usage.cache_write_tokens
        )
        if inp.token_budget is not None and tokens >= inp.token_budget:
            raise _Stop("failed", f"token budget of {inp.token_budget:,} tokens spent")
        if inp.max_turns is not None and self.carry.turn >= inp.max_turns:
            raise _Stop("failed", f"turn limit reached ({inp.max_turns} turns)")

    def _history_full(self, inp: AttemptInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= inp.continue_after_events
        )

    async def _model_turn(self, inp: AttemptInput, steers: list[Steer]) -> TurnOutput | None:
        carry = self.carry
        first = None if carry.started else inp.first_message
        turn_in = TurnInput(
            run_id=inp.run_id,
            agent_id=inp.agent_id,
            attempt=inp.attempt,
            role=inp.role,
            model=inp.model,
            system=inp.system,
            tools=inp.tools,
            hub=inp.hub,
            conversation=inp.conversation,
            turn=carry.turn,
            max_tokens=inp.max_tokens,
            first_message=first,
            history=inp.history if not carry.started else None,
            append=carry.append,
            steers=steers,
            usage=carry.usage,
            budget_usd=inp.budget_usd,
            token_budget=inp.token_budget,
            warned=carry.warned,
            cuts_in_a_row=carry.cuts_in_a_row,
        )
        self.interrupting = False
        self.turn_activity = workflow.start_activity(
            MODEL_TURN,
            turn_in,
            result_type=TurnOutput,
            task_queue=inp.queue,
            start_to_close_timeout=TURN_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        try:
            out: TurnOutput = await self.turn_activity
        except (ActivityError, asyncio.CancelledError) as exc:
            self._stopping()
            if self.interrupting:
                # The turn's partial reply and the steers it took are in the conversation.
                carry.started, carry.append = True, []
                return None
            if isinstance(exc, ActivityError):
                raise _Stop("failed", f"model turn failed: {_cause(exc)}") from None
            raise
        finally:
            self.turn_activity = None
        carry.started, carry.append = True, []
        return out

    async def _tools(self, inp: AttemptInput, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(max(1, inp.max_parallel_tools))

        async def one(call: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                block = await run(call)
            while block.get("type") == APPROVAL_NEEDED:
                # Unrun, waiting for the operator (the session asks; `approve` answers):
                # no worker slot is held meanwhile, and the wait survives any worker.
                request_id = str(block["request_id"])
                self.asking[request_id] = block
                try:
                    await workflow.wait_condition(functools.partial(self.answered, request_id))
                finally:
                    del self.asking[request_id]
                async with gate:
                    block = await run(call, self.answers[request_id])
            return block

        async def run(call: dict[str, Any], approval: str | None = None) -> dict[str, Any]:
            try:
                block: dict[str, Any] = await workflow.execute_activity(
                    TOOL_CALL,
                    ToolInput(
                        run_id=inp.run_id,
                        agent_id=inp.agent_id,
                        attempt=inp.attempt,
                        role=inp.role,
                        hub=inp.hub,
                        call=call,
                        tools=inp.tools,
                        policy=inp.policy,
                        network=inp.network,
                        approval=approval,
                        announced=approval is not None,
                    ),
                    result_type=dict,
                    task_queue=inp.queue,
                    start_to_close_timeout=TOOL_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                return block
            except ActivityError as exc:
                return {
                    "type": "tool_result",
                    "tool_use_id": call["id"],
                    "content": f"the tool call failed on its worker: {_cause(exc)}",
                    "is_error": True,
                }

        return list(await asyncio.gather(*(one(c) for c in calls)))


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return " ".join(str(exc).split()) or type(exc).__name__


@workflow.defn(name=RUN_WORKFLOW)
class RunWorkflow:
    """A run: the record of its agent attempts (each its own workflow, started by the
    session: starts through one workflow are serialized by its workflow tasks, 20 spawns
    took 4.7 s that way), kept until the session closes it."""

    def __init__(self) -> None:
        self.attempts: dict[str, AttemptInfo] = {}
        self.closed = False

    @workflow.run
    async def run(self, run_id: str) -> list[AttemptInfo]:
        await workflow.wait_condition(lambda: self.closed)
        return list(self.attempts.values())

    @workflow.signal
    def record(self, record: RunRecord) -> None:
        """Attempts the session started, then those that ended, since its last record."""
        for info in record.started:
            self.attempt_started(info)
        for end in record.ended:
            self.attempt_ended(end.workflow_id, end.state)

    # One signal per attempt start and end (sessions before `record`; their histories
    # replay with these).
    @workflow.signal
    def attempt_started(self, info: AttemptInfo) -> None:
        self.attempts.setdefault(info.workflow_id, info)

    @workflow.signal
    def attempt_ended(self, workflow_id: str, state: str) -> None:
        info = self.attempts.get(workflow_id)
        if info is not None:
            info.state = state

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def list_attempts(self) -> list[AttemptInfo]:
        return list(self.attempts.values())


def usage_tokens(u: UsageTotals) -> int:
    return u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens
