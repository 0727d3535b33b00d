"""What workflows and activities pass each other: plain dataclasses (Temporal's JSON).

Only coarse state goes through Temporal: the conversation stays in the workers'
conversation store (`ConversationStore`), named by `conversation`; a turn's payload is
its stop reason, its tool calls and its usage, a tool call's is its result block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUN_WORKFLOW = "delegate.run"
ATTEMPT_WORKFLOW = "delegate.attempt"
MODEL_TURN = "delegate.model_turn"
TOOL_CALL = "delegate.tool_call"


def workspace_queue(name: str) -> str:
    """A run's workflows, model turns and tool calls run on the workers that hold its
    workspace `name` (its files, and the conversations those workers keep); one queue,
    so a workflow's activities can start on the worker that ran its workflow task
    without another poll."""
    return f"delegate-ws-{name}"


def run_workflow_id(prefix: str, run_id: str) -> str:
    return f"{prefix}{run_id}"


def attempt_workflow_id(prefix: str, run_id: str, agent_id: str, attempt: int) -> str:
    return f"{prefix}{run_id}.{agent_id}.{attempt}"


@dataclass
class Hub:
    """The event hub's address and token (core.temporal.hub.HubAddress as plain data)."""

    host: str
    port: int
    token: str


@dataclass
class Policy:
    """The session's command policy, applied by the worker that runs the command."""

    mode: str = "ask"
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    assume_yes: bool = False
    interactive: bool = False  # an operator answers approvals (through the session)


@dataclass
class Steer:
    steer_id: str
    text: str
    interrupt: bool = False
    source: str = "operator"
    silent: bool = False


@dataclass
class SteerReceipt:
    steer_id: str
    accepted: bool
    turn: int  # the turn running when it was accepted; delivered at the next boundary
    reason: str = ""


@dataclass
class UsageTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = 0.0


@dataclass
class Carry:
    """What an attempt's next workflow run needs after `continue_as_new`."""

    turn: int = 0
    elapsed_s: float = 0.0  # run time before this workflow run started
    pending: list[Steer] = field(default_factory=list)
    append: list[dict[str, Any]] = field(default_factory=list)
    usage: UsageTotals = field(default_factory=UsageTotals)
    warned: list[str] = field(default_factory=list)  # budget units already warned at 80%
    cuts_in_a_row: int = 0
    last_text: str = ""
    started: bool = False  # the first message is in the conversation


@dataclass
class AttemptInput:
    run_id: str
    agent_id: str
    attempt: int
    role: str
    model: str
    system: str
    tools: list[str]
    first_message: str
    queue: str  # the workspace's task queue
    hub: Hub
    conversation: str  # the conversation store's name for this attempt
    policy: Policy = field(default_factory=Policy)
    max_tokens: int = 8192
    timeout_s: float | None = None
    max_turns: int | None = None
    budget_usd: float | None = None
    token_budget: int | None = None
    network: bool | None = None
    max_parallel_tools: int = 8
    history: list[dict[str, Any]] | None = None  # a restored conversation to go on from
    continue_after_events: int = 10_000  # history length that triggers continue_as_new
    id_prefix: str = ""
    carry: Carry = field(default_factory=Carry)
    # The session tells the run workflow of this attempt's end (every session since that
    # change sets it). An input without it is of an attempt started before: its workflow
    # asks `workflow.patched` instead, whose marker and search attribute cost each
    # attempt two history events and a visibility write.
    ends_told: bool = False


@dataclass
class AttemptResult:
    state: str  # done | failed | killed | timed_out | interrupted
    result: str
    reason: str = ""
    turns: int = 0
    usage: UsageTotals = field(default_factory=UsageTotals)


@dataclass
class TurnInput:
    run_id: str
    agent_id: str
    attempt: int
    role: str
    model: str
    system: str
    tools: list[str]
    hub: Hub
    conversation: str
    turn: int
    max_tokens: int
    first_message: str | None = None
    history: list[dict[str, Any]] | None = None
    append: list[dict[str, Any]] = field(default_factory=list)
    steers: list[Steer] = field(default_factory=list)
    usage: UsageTotals = field(default_factory=UsageTotals)
    budget_usd: float | None = None
    token_budget: int | None = None
    warned: list[str] = field(default_factory=list)
    cuts_in_a_row: int = 0


@dataclass
class TurnOutput:
    stop_reason: str | None
    calls: list[dict[str, Any]] = field(default_factory=list)
    usage: UsageTotals = field(default_factory=UsageTotals)
    last_text: str = ""
    failed: str | None = None  # the agent cannot go on (one line)
    cut_notice: dict[str, Any] | None = None  # a tool call cut at max_tokens, to tell it
    notes: list[Steer] = field(default_factory=list)  # budget warnings for the next turn
    warned: list[str] = field(default_factory=list)
    cuts_in_a_row: int = 0
    interrupted: bool = False
    stopped: list[str] = field(default_factory=list)  # [state, reason]: the session stopped it


@dataclass
class ToolInput:
    run_id: str
    agent_id: str
    attempt: int
    role: str
    hub: Hub
    call: dict[str, Any]
    tools: list[str]
    policy: Policy
    network: bool | None = None
    approval: str | None = None  # the operator's answer to this call's request
    announced: bool = False  # its ToolCallStarted went out when it asked


# A tool call's result when it stopped, unrun, to wait for the operator's approval.
APPROVAL_NEEDED = "approval_needed"


@dataclass
class Approval:
    """The operator's answer to a request of the attempt; `allow`: the session's allow
    list after it (an `always` answer added a prefix)."""

    request_id: str
    decision: str  # once | always | deny
    allow: list[str] | None = None


@dataclass
class AttemptInfo:
    """The run workflow's record of one attempt (queried by a session that reattaches)."""

    workflow_id: str
    agent_id: str
    attempt: int
    role: str
    state: str = "running"


@dataclass
class AttemptEnd:
    workflow_id: str
    state: str


@dataclass
class RunRecord:
    """What the session tells the run workflow in one signal: the attempts it started and
    those that ended since its last one (one signal per burst, not two per attempt)."""

    started: list[AttemptInfo] = field(default_factory=list)
    ended: list[AttemptEnd] = field(default_factory=list)
