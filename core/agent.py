"""One agent attempt: its conversation and the turn loop (model -> tools -> model).

The agent knows nothing of queues or timeouts; the Supervisor runs it as a task,
cancels it to kill or time it out, and feeds it steers through `inbox`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from core import redact
from core.catalog import Catalog, Usage
from core.cost_meter import WARN_AT, CostMeter, Limit, RunLedger
from core.events import (
    AgentState,
    BudgetCrossed,
    Event,
    MessageAppended,
    SteerDelivered,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolInputStreaming,
    TurnEnded,
    TurnStarted,
    UsageUpdated,
)
from core.evidence import ToolRecorder
from core.llm import ModelClient, TurnError, TurnRequest
from core.repeat_guard import DEFAULT_LIMIT, RepeatGuard
from core.runner import InboxMessage
from core.tools.base import Tool, ToolContext, ToolResult, execute
from core.tools.validate import finite_copy

Emit = Callable[[Event], None]
TOOL_OUTPUT_EVENT_CAP = 4000
# Replies cut at max_tokens inside a tool call, in a row, before the agent gives up.
MAX_CUT_REPLIES = 3
MAX_PARALLEL_TOOLS = 8  # tool calls of one reply running at once; the rest wait their turn
FINAL_TURN_MAX_TOKENS = 2048  # the CEO's last report after the run's budget is spent
FINAL_TURN_TIMEOUT_S = 120.0
# While a reply streams, its estimated usage is published at most this often (the UI's
# live figures; the API's own reports are published at once), and with many agents
# streaming at most LIVE_USAGE_MAX_PER_S times a second over all of them (the board draws
# a few panes per flush: more would be work nobody sees).
LIVE_USAGE_EVERY_S = 0.25
LIVE_USAGE_MAX_PER_S = 200.0


def live_usage_every(streaming: int) -> float:
    """Seconds between one agent's estimate publications with `streaming` agents streaming."""
    return max(LIVE_USAGE_EVERY_S, streaming / LIVE_USAGE_MAX_PER_S)


class AgentFailed(Exception):
    """The agent cannot go on; `reason` is one readable line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Sink:
    """Receives the streamed turn and turns it into events, secrets redacted (the end of
    a delta that may start a secret waits for the next delta; `flush` at the end)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.text: list[str] = []
        redactor = redact.current()
        self._text = redact.StreamRedactor(redactor)
        self._thinking = redact.StreamRedactor(redactor)

    def on_text(self, text: str) -> None:
        # A call per streamed delta: `Agent._emit` and `Agent._streamed`, inlined.
        self.text.append(text)
        clean = self._text.feed(text)
        agent = self.agent
        if clean:
            agent.emit(
                TextDelta(run_id=agent.run_id, agent_id=agent.agent_id, turn=agent.turn, text=clean)
            )
        agent.last_activity = time.monotonic()
        agent.usage.on_stream(len(text))

    def on_thinking(self, text: str) -> None:
        clean = self._thinking.feed(text)
        if clean:
            self.agent._emit(ThinkingDelta, turn=self.agent.turn, text=clean)
        self.agent._streamed(len(text))

    def on_tool_input(self, partial_json: str) -> None:
        self.agent._streamed(len(partial_json))

    def flush(self) -> None:
        """The stream ended: what was held back is not a secret after all."""
        if text := self._thinking.flush():
            self.agent._emit(ThinkingDelta, turn=self.agent.turn, text=text)
        if text := self._text.flush():
            self.agent._emit(TextDelta, turn=self.agent.turn, text=text)

    def on_tool_use(self, tool_use_id: str, name: str) -> None:
        self.agent._emit(
            ToolInputStreaming, turn=self.agent.turn, tool_use_id=tool_use_id, name=name
        )

    def on_usage(self, usage: Usage) -> None:
        self.agent.last_activity = time.monotonic()
        self.agent.usage.on_usage(usage)
        self.agent._publish_usage()

    def on_retry(self, try_number: int, delay_s: float, reason: str) -> None:
        self.agent._commit_usage()
        self.agent._publish_usage()
        self.text.clear()
        self._text.reset()
        self._thinking.reset()
        from core.events import ApiRetry

        self.agent._emit(
            ApiRetry, turn=self.agent.turn, try_number=try_number, delay_s=delay_s, reason=reason
        )


# What the CEO does when its reply ends: return True to stop, False to wait for the inbox.
IdlePolicy = Callable[["Agent"], Awaitable[bool]]
# What the CEO does at its turn limit: return once the operator wrote (or raise AgentFailed).
TurnLimitPolicy = Callable[["Agent"], Awaitable[None]]
# What the CEO does before its first turn (wait for the operator's first message).
StartPolicy = Callable[["Agent"], Awaitable[None]]


class Agent:
    """An agent attempt. `run()` returns the final text or raises AgentFailed."""

    streaming_now: ClassVar[int] = 0  # agents of this process inside a model reply

    def __init__(
        self,
        *,
        run_id: str,
        agent_id: str,
        role: str,
        model: str,
        system: str,
        tools: dict[str, Tool],
        ctx: ToolContext,
        client: ModelClient,
        catalog: Catalog,
        emit: Emit,
        attempt: int = 1,
        max_tokens: int = 8192,
        cache: bool = False,
        thinking: bool = False,
        token_budget: int | None = None,
        budget_usd: float | None = None,
        ledger: RunLedger | None = None,
        notify: Callable[[str], None] | None = None,
        max_turns: int | None = None,
        on_turn_limit: TurnLimitPolicy | None = None,
        repeat_limit: int | None = DEFAULT_LIMIT,
        history: list[dict[str, Any]] | None = None,
        on_idle: IdlePolicy | None = None,
        before_run: StartPolicy | None = None,
        max_parallel_tools: int = MAX_PARALLEL_TOOLS,
        recorder: ToolRecorder | None = None,
    ) -> None:
        self.run_id = run_id
        self.agent_id = agent_id
        self.role = role
        self.model = model
        self.system = system
        self.tools = tools
        self.ctx = ctx
        self.client = client
        self.catalog = catalog
        self.emit = emit
        self.attempt = attempt
        self.max_tokens = max_tokens
        self.cache = cache
        self.thinking = thinking
        self.token_budget = token_budget
        self.budget_usd = budget_usd
        # The caps, each warning once at 80% and stopping the agent at 100%.
        self.limits = [
            limit
            for limit in (
                Limit(budget_usd, "usd") if budget_usd is not None else None,
                Limit(token_budget, "tokens") if token_budget is not None else None,
            )
            if limit is not None
        ]
        self.notify = notify  # tells the CEO (a sub-agent's 80% warnings)
        self.max_turns = max_turns
        self.on_turn_limit = on_turn_limit
        self.turns_used = 0  # since the start, or (the CEO) since the operator's last message
        self.repeats = RepeatGuard(repeat_limit)
        self.messages: list[dict[str, Any]] = list(history or [])
        self.on_idle = on_idle
        self.max_parallel_tools = max(1, max_parallel_tools)
        self.recorder = recorder  # the evidence ledger's hook on every tool call
        self.before_run = before_run
        self._last_word: str | None = None
        self.last_word_given = False
        self.inbox: collections.deque[InboxMessage] = collections.deque()
        self.inbox_signal = asyncio.Event()
        self.turn = 0
        self.usage = CostMeter(catalog, model, ledger=ledger, on_change=self._meter_moved)
        self._published_at = 0.0  # monotonic time of the last UsageUpdated
        self._publish_timer: asyncio.TimerHandle | None = None
        self.last_activity = time.monotonic()  # output or tool progress (stall watch)
        self._limit_hit: str | None = None
        self._streaming = False
        self.last_text = ""
        self.last_tool: str = ""
        self.busy = False  # inside a turn (streaming or running tools)
        self._stream_task: asyncio.Task[Any] | None = None
        self._interrupt_pending = False
        self._halt: str | None = None
        self._cut_call: str | None = None  # the tool whose call the last reply cut off
        self._cuts_in_a_row = 0
        self.state: AgentState = "running"

    # --- events -------------------------------------------------------------

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        self.emit(cls(run_id=self.run_id, agent_id=self.agent_id, **fields))

    def _end_cut_turn(self, sink: _Sink) -> None:
        """A reply cut mid-stream (killed, timed out, budget spent): bill it at its estimate,
        end the turn as interrupted and keep what streamed in the transcript."""
        self._commit_usage()
        self._publish_usage()
        partial = "".join(sink.text).strip()
        self._emit(TurnEnded, turn=self.turn, stop_reason=None, interrupted=True)
        if partial:
            self.last_text = redact.current().redact(partial)
            self._append("assistant", [{"type": "text", "text": partial}])

    def _commit_usage(self, final: Usage | None = None) -> None:
        self.usage.commit(final)

    @property
    def cost_usd(self) -> float | None:
        return self.usage.cost

    def _streamed(self, chars: int) -> None:
        self.last_activity = time.monotonic()
        self.usage.on_stream(chars)

    def _set_streaming(self, streaming: bool) -> None:
        if streaming != self._streaming:
            self._streaming = streaming
            Agent.streaming_now += 1 if streaming else -1

    def _meter_moved(self) -> None:
        """The meter changed: check the caps, and let the live figures follow a stream."""
        if self.limits:  # (no caps: no limit can be hit)
            self._check_limits()
        if self._streaming and self.usage.estimating:
            self._publish_soon()

    def _publish_soon(self) -> None:
        """Publish the estimate now, or once `LIVE_USAGE_EVERY_S` has passed since the
        last publication (one pending timer at most), so the last estimate of a stream
        that pauses still shows."""
        wait = self._published_at + live_usage_every(Agent.streaming_now) - time.monotonic()
        if wait <= 0:
            self._publish_usage()
        elif self._publish_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._publish_timer = loop.call_later(wait, self._publish_due)

    def _publish_due(self) -> None:
        self._publish_timer = None
        if self._streaming:
            self._publish_usage()

    # --- budgets ---------------------------------------------------------------

    def _check_limits(self) -> None:
        """The meter moved: warn at 80%, and at 100% stop (mid-reply when streaming)."""
        for limit in self.limits:
            value = self.usage.cost if limit.unit == "usd" else self.usage.tokens
            if value is None:
                continue
            crossing = limit.check(value)
            if crossing is not None:
                self._crossed(limit, crossing, value)
        if self._limit_hit is not None and self._streaming:
            raise AgentFailed(self._limit_hit)

    def _crossed(self, limit: Limit, crossing: str, value: float) -> None:
        self._emit(
            BudgetCrossed,
            level=crossing,
            unit=limit.unit,
            spent=round(value, 6),
            limit=limit.limit,
            attempt=self.attempt,
        )
        what = "budget" if limit.unit == "usd" else "token budget"
        if crossing == "spent":
            self._limit_hit = f"{what} of {limit.describe()} spent"
            return
        used = f"{WARN_AT:.0%} of your {what} ({limit.describe(value)})"
        self.post(
            InboxMessage(
                text=f"[system] You have used {used}. Wrap up now: finish the essential "
                "part and report what you have; at 100% you are stopped.",
                source="system",
                silent=True,
            )
        )
        if self.notify is not None:
            self.notify(
                f"[system] {self.agent_id} has used {WARN_AT:.0%} of its {what} "
                f"({limit.describe(value)}); it was told to wrap up."
            )

    def _stop_if_spent(self) -> None:
        if self._limit_hit is not None:
            raise AgentFailed(self._limit_hit)

    def _publish_usage(self) -> None:
        if self._publish_timer is not None:
            self._publish_timer.cancel()
            self._publish_timer = None
        self._published_at = time.monotonic()
        total = self.usage.total
        self._emit(
            UsageUpdated,
            attempt=self.attempt,
            input_tokens=total.input_tokens,
            output_tokens=total.output_tokens,
            cache_read_tokens=total.cache_read_tokens,
            cache_write_tokens=total.cache_write_tokens,
            cost_usd=self.cost_usd,
            context_tokens=self.usage.context_tokens,
            estimated=self.usage.estimated,
        )

    # --- conversation --------------------------------------------------------

    def _append(self, role: str, content: list[dict[str, Any]]) -> None:
        # Redacted before it is kept: this history goes back to the model and to the store.
        content = redact.current().deep(content)
        if self.messages and self.messages[-1]["role"] == role == "user":
            # Consecutive user content (a steer after tool results) goes in one message.
            last = self.messages[-1]
            self.messages[-1] = {"role": "user", "content": [*_blocks(last["content"]), *content]}
        else:
            self.messages.append({"role": role, "content": list(content)})
        self._emit(MessageAppended, attempt=self.attempt, role=role, content=content)

    def start(self, first_message: str) -> None:
        """Begin a fresh conversation with the task (or continue a restored history)."""
        self._append("user", [{"type": "text", "text": first_message}])

    def add_user(self, content: list[dict[str, Any]]) -> None:
        """Add user content to the conversation (joined to a user message just before)."""
        self._append("user", content)

    async def wait_for_inbox(self) -> None:
        """Return once a message waits in the inbox."""
        while not self.inbox:
            self.inbox_signal.clear()
            await self.inbox_signal.wait()

    def end_with_last_word(self, note: str | None) -> None:
        """With a `note`: the next cancellation of `run()` ends it with one last reply,
        no tool run, told `note` (the CEO once the run's budget is spent); `run()` then
        returns that reply and `last_word_given` is True. None: cancellation stops it."""
        self._last_word = note

    # --- steering ------------------------------------------------------------

    def post(self, message: InboxMessage) -> None:
        """Queue a message for the next turn boundary; interrupt the reply if asked."""
        self.inbox.append(message)
        self.inbox_signal.set()
        if message.interrupt and self._stream_task is not None and not self._stream_task.done():
            self._interrupt_pending = True
            self._stream_task.cancel()

    def halt(self, reason: str) -> bool:
        """End the reply streaming now as a spent budget ends it: `model_turn` raises
        AgentFailed(reason), what streamed is kept and billed at its estimate. False when
        no reply is streaming (the caller stops the agent its usual way)."""
        if self._stream_task is None or self._stream_task.done():
            return False
        self._halt = reason
        self._stream_task.cancel()
        return True

    def take_inbox(self) -> list[dict[str, Any]]:
        """Every waiting message as text blocks for the next user message, oldest first;
        each steer's receipt (`SteerDelivered`) says it landed at the next turn."""
        blocks: list[dict[str, Any]] = []
        while self.inbox:
            msg = self.inbox.popleft()
            if msg.source == "operator":
                self.turns_used = 0  # the CEO's turn limit is per operator message
            blocks.append({"type": "text", "text": msg.text})
            if not msg.silent:
                self._emit(SteerDelivered, steer_id=msg.steer_id, turn=self.turn + 1)
        self.inbox_signal.clear()
        return blocks

    # --- the loop ------------------------------------------------------------

    async def run(self) -> str:
        """The turn loop, after the `before_run` hook (the CEO's wait for its first
        message); returns the final text or raises AgentFailed."""
        try:
            if self.before_run is not None:
                prologue, self.before_run = self.before_run, None
                await prologue(self)
            return await self._loop()
        except asyncio.CancelledError:
            note, self._last_word = self._last_word, None
            if note is None:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            self.last_word_given = True
            return await self.final_turn(note)

    async def _loop(self) -> str:
        tool_specs = self.tool_specs()
        while True:
            self._stop_if_spent()
            if self.max_turns is not None and self.turns_used >= self.max_turns:
                await self._turn_limit()
            self.turn += 1
            self.turns_used += 1  # a pause_turn reply counts too: endless pauses end here
            self.busy = True
            reply = await self.model_turn(tool_specs)
            if reply is None:  # interrupted: the steer is delivered at once
                self._append("user", self.take_inbox())
                continue
            content, stop_reason = reply
            self._stop_if_spent()
            if self._cut_call is not None:  # max_tokens inside a tool call: say so, go on
                results = await self._run_tools(content)
                self._append("user", [*results, self.cut_notice(), *self.take_inbox()])
                continue
            if stop_reason == "tool_use":
                results = await self._run_tools(content)
                self._append("user", results + self.take_inbox())
                continue
            if stop_reason == "pause_turn":
                continue
            if stop_reason == "refusal":
                raise AgentFailed("the model refused to continue")
            self.busy = False
            if self.inbox:
                self._append("user", self.take_inbox())
                continue
            if self.on_idle is not None and not await self.on_idle(self) and self.inbox:
                self._append("user", self.take_inbox())
                continue
            return self.last_text

    async def _turn_limit(self) -> None:
        """`max_turns` reached: a sub-agent fails; the CEO's policy decides (it waits for
        the operator, or fails a headless run)."""
        if self.on_turn_limit is None:
            raise AgentFailed(f"turn limit reached ({self.max_turns} turns)")
        self.busy = False
        await self.on_turn_limit(self)
        self.turns_used = 0
        if self.inbox:
            self._append("user", self.take_inbox())

    async def final_turn(self, note: str) -> str:
        """One last reply, with no tool run (the run's budget is spent): `note` tells the
        model why; calls still open in the history are answered as not run."""
        self.close_open_calls("not run: " + note)
        notes = self.take_inbox()
        self._append("user", [*notes, {"type": "text", "text": f"[system] {note}"}])
        self.turn += 1
        tool_specs = self.tool_specs()
        with contextlib.suppress(AgentFailed, TimeoutError):  # it says what it could
            await asyncio.wait_for(
                self.model_turn(
                    tool_specs,
                    tool_choice="none" if tool_specs else None,
                    max_tokens=min(self.max_tokens, FINAL_TURN_MAX_TOKENS),
                ),
                FINAL_TURN_TIMEOUT_S,
            )
        return self.last_text

    def close_open_calls(self, text: str) -> None:
        """Answer the last reply's tool calls that never got a result (the agent was
        stopped while they ran), so the history is valid for the API again."""
        if not self.messages or self.messages[-1]["role"] != "assistant":
            return
        content = self.messages[-1]["content"]
        ids = [b["id"] for b in _blocks(content) if b.get("type") == "tool_use"]
        if ids:
            results = [
                {"type": "tool_result", "tool_use_id": i, "content": text, "is_error": True}
                for i in ids
            ]
            self._append("user", results)

    def tool_specs(self) -> list[dict[str, Any]]:
        """The tools as the API describes them (a model turn's `tools`)."""
        return [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in self.tools.values()
        ]

    async def model_turn(
        self,
        tool_specs: list[dict[str, Any]],
        *,
        tool_choice: str | None = None,
        max_tokens: int | None = None,
    ) -> tuple[list[dict[str, Any]], str] | None:
        """One model reply streamed into the conversation: its content and stop reason,
        or None when a steer interrupted it (raises AgentFailed: a budget spent mid-reply,
        an API error). A reply cut at max_tokens inside a tool call sets `cut_call`."""
        self._emit(TurnStarted, turn=self.turn, model=self.model)
        sink = _Sink(self)
        request = TurnRequest(
            model=self.model,
            system=self.system,
            messages=list(self.messages),  # a snapshot: the history grows while this streams
            tools=tool_specs,
            max_tokens=max_tokens or self.max_tokens,
            cache=self.cache,
            thinking=self.thinking,
            tool_choice=tool_choice,
        )
        self._stream_task = asyncio.ensure_future(self.client.stream_turn(request, sink))
        self._set_streaming(True)
        try:
            result = await self._stream_task
            sink.flush()
        except asyncio.CancelledError:
            sink.flush()
            current = asyncio.current_task()
            halted, self._halt = self._halt, None
            if halted is not None and current is not None and not current.cancelling():
                # Stopped from outside mid-reply (see `halt`), as a spent budget stops it.
                self._set_streaming(False)
                self._end_cut_turn(sink)
                raise AgentFailed(halted) from None
            if self._interrupt_pending and current is not None and not current.cancelling():
                self._interrupt_pending = False
                self._commit_usage()  # the cut reply is billed at its estimate
                self._publish_usage()
                partial = "".join(sink.text)
                self._emit(TurnEnded, turn=self.turn, stop_reason=None, interrupted=True)
                if partial.strip():
                    self._append("assistant", [{"type": "text", "text": partial.rstrip()}])
                return None
            # Killed or timed out mid-reply: keep what streamed in the transcript.
            self._stream_task.cancel()
            self._end_cut_turn(sink)
            raise
        except TurnError as exc:
            sink.flush()
            self._set_streaming(False)
            self._commit_usage()
            self._publish_usage()
            self._emit(TurnEnded, turn=self.turn, stop_reason=None)
            raise AgentFailed(exc.reason) from None
        except AgentFailed:
            # A budget ran out mid-reply: the stream was cut there. What streamed stays
            # in the transcript, and the try is billed at its estimate.
            sink.flush()
            self._set_streaming(False)
            self._end_cut_turn(sink)
            raise
        finally:
            self._set_streaming(False)
            self._stream_task = None
        self._commit_usage(result.usage)
        self._publish_usage()
        content = self._drop_cut_call(result.content, result.stop_reason)
        if content or self._cut_call is None:  # a cut that left nothing adds no message
            # History keeps tool input without inf/NaN (see `_history_content`); the tools
            # get the input as the model sent it, so validation can name the bad field.
            self._append("assistant", _history_content(content))
        text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        if text.strip():
            self.last_text = redact.current().redact(text.strip())
        self._emit(TurnEnded, turn=self.turn, stop_reason=result.stop_reason)
        return content, result.stop_reason

    def _drop_cut_call(
        self, content: list[dict[str, Any]], stop_reason: str
    ) -> list[dict[str, Any]]:
        """A reply cut at max_tokens inside a tool call loses that call (its input is a
        fragment: a half-written file). Earlier complete calls of the reply stay and run.
        Thinking blocks left with nothing after them are dropped too (nothing to sign for).
        """
        self._cut_call = None
        if stop_reason != "max_tokens" or not content or content[-1].get("type") != "tool_use":
            self._cuts_in_a_row = 0
            return content
        self._cuts_in_a_row += 1
        name = str(content[-1].get("name", "?"))
        if self._cuts_in_a_row >= MAX_CUT_REPLIES:
            raise AgentFailed(
                f"the model's reply was cut at max_tokens ({self.max_tokens}) inside a "
                f"{name} call {self._cuts_in_a_row} times in a row"
            )
        self._cut_call = name
        kept = content[:-1]
        while kept and kept[-1].get("type") in ("thinking", "redacted_thinking"):
            kept.pop()
        return kept

    @property
    def cut_call(self) -> str | None:
        """The tool whose call the last reply cut off at max_tokens (None: no cut)."""
        return self._cut_call

    @property
    def cuts_in_a_row(self) -> int:
        return self._cuts_in_a_row

    def carry_over(
        self, usage: Usage, cost_usd: float | None, warned: list[str], cuts_in_a_row: int
    ) -> None:
        """Go on from an attempt's earlier turns run by another Agent object (a Temporal
        model turn lives one turn): its usage so far, the budgets already warned at 80%,
        and the replies cut inside a tool call in a row."""
        self.usage.carry_over(usage, cost_usd)
        for limit in self.limits:
            if limit.unit in warned:
                limit.warned = True
        self._cuts_in_a_row = cuts_in_a_row

    def cut_notice(self) -> dict[str, Any]:
        """What the model is told after a reply cut inside a tool call (see `cut_call`)."""
        return {
            "type": "text",
            "text": f"[system] Your last reply was cut off at the output limit "
            f"(max_tokens {self.max_tokens}) in the middle of a {self._cut_call} call, so "
            "that call was not run. Make it again with shorter input (for a large file, "
            "write it in parts: a first write_file, then edit_file to add the rest).",
        }

    async def _run_tools(self, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls = [b for b in content if b.get("type") == "tool_use"]
        pairs = [(str(c.get("name")), c.get("input")) for c in calls]
        verdicts = self.repeats.judge(pairs)
        for (name, _), verdict in zip(pairs, verdicts, strict=True):
            if verdict.stuck:
                raise AgentFailed(
                    f"stuck: made the same {name} call {verdict.count} times in a row "
                    "with nothing changing"
                )
        gate = asyncio.Semaphore(self.max_parallel_tools)

        async def one(
            call: dict[str, Any], blocked: bool, count: int
        ) -> tuple[dict[str, Any], bool]:
            if blocked:
                return self._refuse(call, self.repeats.message(str(call.get("name")), count)), False
            async with gate:
                return await self.run_tool(call)

        done = await asyncio.gather(
            *(one(c, v.blocked, v.count) for c, v in zip(calls, verdicts, strict=True))
        )
        self.repeats.record(
            [
                (name, args, None if verdict.blocked else str(block.get("content")), progress)
                for (name, args), verdict, (block, progress) in zip(
                    pairs, verdicts, done, strict=True
                )
            ]
        )
        return [block for block, _ in done]

    def _refuse(self, call: dict[str, Any], text: str) -> dict[str, Any]:
        """A call answered with a tool error without running it (the loop detector)."""
        args = call.get("input")
        name = str(call.get("name"))
        summary = _summary(self.tools.get(name), name, args)
        self._emit(
            ToolCallStarted,
            tool_use_id=call["id"],
            name=name,
            input=finite_copy(args) if isinstance(args, dict) else {"_raw": finite_copy(args)},
            summary=summary,
        )
        self._emit(
            ToolCallFinished,
            tool_use_id=call["id"],
            name=name,
            output=text,
            is_error=True,
            summary=f"{summary} (refused: repeated)",
        )
        return {"type": "tool_result", "tool_use_id": call["id"], "content": text, "is_error": True}

    async def run_tool(
        self, call: dict[str, Any], *, announce: bool = True
    ) -> tuple[dict[str, Any], bool]:
        """Run one tool call of the last reply: its result block, and whether it made
        progress (the loop detector's input). `announce=False`: its ToolCallStarted was
        published already (a call that waited for the operator's approval elsewhere)."""
        tool = self.tools.get(call["name"])
        args = call.get("input")
        summary = _summary(tool, call["name"], args)
        self.last_tool = redact.current().redact(summary)
        if announce:
            self._emit(
                ToolCallStarted,
                tool_use_id=call["id"],
                name=call["name"],
                input=finite_copy(args) if isinstance(args, dict) else {"_raw": finite_copy(args)},
                summary=summary,
            )
        started = self.last_activity = time.monotonic()
        rec = self.recorder
        probe = await rec.before(call["name"], args, self.ctx) if rec is not None else None
        result: ToolResult = await execute(self.tools, call["name"], args, self.ctx)
        self.last_activity = time.monotonic()
        if rec is not None:
            await rec.after(probe, result)
        # What a tool read (a file, a command's output, a page) reaches neither the
        # model nor the store with a secret in it.
        redactor = redact.current()
        text = redactor.redact(result.text)
        self._emit(
            ToolCallFinished,
            tool_use_id=call["id"],
            name=call["name"],
            output=redactor.cut(text, TOOL_OUTPUT_EVENT_CAP),
            is_error=result.is_error,
            summary=f"{summary} ({time.monotonic() - started:.1f}s)",
            data=result.data,
        )
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": call["id"],
            "content": text or "(no output)",
        }
        if result.is_error:
            block["is_error"] = True
        return block, result.progress


def _history_content(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reply as kept in the conversation: tool input with inf/NaN replaced by null.

    `1e999` is valid JSON that Python reads as inf (and the SDK's parser accepts `NaN`),
    but no JSON encoder may write either back: the SDK refuses to serialise the next
    request, and the store's JSON would not parse elsewhere. The API pairs a tool_use
    with its tool_result by id and does not compare the input with what the model
    produced (only thinking blocks are signed), so null, JSON's nearest value, keeps the
    history valid; the tool result already told the model the field was not finite.
    Blocks without such a number are kept as the same objects, exactly as received.
    """
    out = []
    for block in content:
        if block.get("type") == "tool_use" and "input" in block:
            clean = finite_copy(block["input"])
            if clean is not block["input"]:
                block = {**block, "input": clean}
        out.append(block)
    return out


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _summary(tool: Tool | None, name: str, args: Any) -> str:
    if tool is not None and isinstance(args, dict):
        try:
            return tool.summary(args)
        except Exception:
            pass
    return name
