"""The runner seam: how the Supervisor starts, steers, stops and reads agent attempts.

The Supervisor owns the policy: the FIFO queue and the concurrency cap, the run's
limits and budgets, what the timeout of an attempt is and when it is told to wrap up,
retries, and the lifecycle events (spawned, queued, state changes, finished, steer
queued, timeout changed). An `AgentRunner` owns the mechanism: it runs one attempt of
an agent somewhere (an asyncio task in this process for `LocalRunner`, a workflow for a
Temporal runner), delivers steers to it, moves its deadline, stops it, and reports its
end once. Nothing outside a runner may assume an attempt is a task in this process.

Rules every runner keeps:

- Every method is called on the Session's event loop, and every hook (`AttemptHooks`)
  is called back on that loop: a runner whose attempts live elsewhere (a thread, a
  subprocess, a workflow) marshals to and from it.
- Events: what an attempt does (turns, streamed text, tool calls, usage, steer
  receipts, budget warnings: everything `core.agent.Agent` emits) is published through
  the `emit` the runner was built with, in the order it happened, on that loop. The
  runner publishes no lifecycle event of its own; the Supervisor does.
- `start` returns at once; the attempt runs until it ends by itself (its final reply, a
  failure, a spent budget) or is stopped by `cancel` or its deadline. Whichever way,
  `AttemptHooks.on_end` is called exactly once with the `AttemptOutcome`, and
  `Attempt.wait()` returns that same outcome afterwards.
- The deadline is the runner's timer and the Supervisor's numbers: at
  `Deadline.wrap_up_s` (seconds since the attempt started) the runner calls
  `AttemptHooks.on_wrap_up` once; at `Deadline.timeout_s` it stops the attempt, which
  ends as `timed_out`. `Attempt.set_deadline` replaces both (an extended timeout).
- A steer is queued at once and delivered at the attempt's next turn boundary (or at
  once, cutting the current reply, when `interrupt`); delivery is announced by the
  attempt as a `SteerDelivered` event carrying the steer's id, unless `silent`.
- `cancel` stops the attempt and every process it started, and returns once it ended
  (a killed local agent ends within a second). What streamed so far stays in its
  transcript; a cancelled attempt reports `state` (and `reason`, or the state's usual
  one) as its outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from core.catalog import Usage
from core.events import AgentState

# How an attempt may be stopped from outside: the operator or CEO kills it, the operator
# quits (stopped: a clean stop), its timeout passes, the app stops (interrupted), or a
# budget is spent (failed).
StopState = Literal["killed", "stopped", "timed_out", "interrupted", "failed"]

# The usual reason for each way of being stopped, when the caller gives none.
STOP_REASONS: dict[str, str] = {
    "timed_out": "timed out",
    "killed": "killed",
    "stopped": "stopped by the operator",
    "interrupted": "app stopped",
}

SteerSource = Literal["operator", "ceo", "timeout", "system", "radar"]


@dataclass
class InboxMessage:
    """A message waiting for the agent's next turn boundary: a steer, a notice, an operator line."""

    text: str
    steer_id: str = field(default_factory=lambda: "st_" + uuid.uuid4().hex[:10])
    interrupt: bool = False
    source: str = "operator"
    silent: bool = False  # no SteerDelivered receipt (notices to the CEO)


@dataclass(frozen=True)
class Deadline:
    """When an attempt is told to wrap up and when it is stopped, in seconds since it
    started; None: never."""

    timeout_s: float | None = None
    wrap_up_s: float | None = None


@dataclass(frozen=True)
class AttemptSpec:
    """Everything needed to run one attempt of one agent, as plain data (it may travel)."""

    run_id: str
    agent_id: str
    role: str
    model: str
    attempt: int
    first_message: str  # the task, with the feedback on the last try for a retry
    deadline: Deadline = Deadline()
    budget_usd: float | None = None  # per attempt; the run's budget applies too
    token_budget: int | None = None  # per attempt
    steers: tuple[InboxMessage, ...] = ()  # queued before it started: delivered first


@dataclass(frozen=True)
class SteerReceipt:
    """A steer was accepted; `SteerDelivered` with this id says at which turn it landed."""

    steer_id: str
    agent_id: str
    status: Literal["queued"] = "queued"


@dataclass(frozen=True)
class AttemptProgress:
    """A running attempt as the Supervisor reads it live (usage, stall watch)."""

    usage: Usage
    cost_usd: float | None  # None: a model without a price
    idle_s: float  # seconds since its last output or tool progress
    last_tool: str = ""  # the summary of its last tool call


@dataclass(frozen=True)
class AttemptOutcome:
    """How an attempt ended: its state, why, its final text, and what it used."""

    state: AgentState
    reason: str
    result: str
    usage: Usage
    cost_usd: float | None


@dataclass(frozen=True)
class AttemptHooks:
    """What a runner calls back, on the Session's loop."""

    on_end: Callable[[AttemptOutcome], None]  # exactly once
    on_wrap_up: Callable[[], None] = lambda: None  # the deadline's wrap-up mark passed


class Attempt(Protocol):
    """One running attempt, as handed back by `AgentRunner.start`."""

    @property
    def spec(self) -> AttemptSpec: ...

    @property
    def ended(self) -> bool: ...

    def steer(self, message: InboxMessage) -> SteerReceipt:
        """Queue `message` for the next turn boundary (or cut the reply: `interrupt`)."""
        ...

    def set_deadline(self, deadline: Deadline) -> None:
        """Replace the attempt's deadline (measured from its start, as before)."""
        ...

    async def cancel(self, state: StopState, reason: str | None = None) -> AttemptOutcome:
        """Stop it, with every process it started; returns its outcome once it ended."""
        ...

    def progress(self) -> AttemptProgress:
        """Its usage and activity so far (live while it runs, final once it ended)."""
        ...

    async def wait(self) -> AttemptOutcome:
        """Its outcome, once it ended."""
        ...


class AgentRunner(Protocol):
    """Runs attempts; one per Session, shared by the CEO (role "ceo") and sub-agents.

    The CEO's attempt runs in the Session's process (its policies, the wait for the
    operator and the idle and turn-limit rules, run beside its loop): a runner that puts
    sub-agents elsewhere starts role "ceo" on a LocalRunner.
    """

    def start(self, spec: AttemptSpec, hooks: AttemptHooks) -> Attempt:
        """Start the attempt now (the Supervisor already decided there is room)."""
        ...

    async def aclose(self) -> None:
        """Release what the runner holds (connections, workers); attempts have ended."""
        ...
