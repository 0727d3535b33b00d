"""The event vocabulary: everything that happens in a run, as frozen dataclasses.

Events flow up from the core on one bus; the TUI, the SQLite store and the
headless printer all subscribe to the same stream. Replay is this stream read
back from the store, so every event must round-trip through `to_dict`/`from_dict`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, dataclass_transform

AgentState = Literal[
    "queued",
    "running",
    "waiting_approval",
    "done",
    "failed",
    "killed",
    "stopped",
    "timed_out",
    "interrupted",
]
# `killed`: by the CEO or the operator's kill of one agent; `stopped`: the operator ended
# the session cleanly (not a failure).
TERMINAL_STATES: frozenset[str] = frozenset(
    {"done", "failed", "killed", "stopped", "timed_out", "interrupted"}
)
# `done`: answered and verified (a check passed after the last file change);
# `unverified`: answered without that (see core/outcome.py); `stopped`: the operator quit
# before the CEO answered; `cancelled`: a signal ended a headless run.
RunStatus = Literal[
    "running", "done", "unverified", "failed", "interrupted", "cancelled", "stopped"
]
ApprovalDecision = Literal["once", "always", "deny"]
NoticeLevel = Literal["info", "warning", "error"]

CEO_ID = "ceo"

_REGISTRY: dict[str, type[Event]] = {}
_T = TypeVar("_T", bound=type)


def _now() -> float:
    return time.time()


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
def frozen_event(cls: _T) -> _T:
    """`@dataclass(frozen=True, kw_only=True)`, as cheap to define as a class can be.

    The dataclass machinery still reads the fields (so `dataclasses.fields`, `replace`
    and `asdict` work as on any dataclass), but generates no method: Python 3.11 compiles
    each generated method on its own, six a frozen class, and that was most of this
    module's import time. `Event` has the immutability, equality, hash and repr every
    event shares; the `__init__`s of all the events are compiled together, once (see
    `_compile_inits`), and set each field as a frozen dataclass's does.
    """
    if not cls.__dict__.get("__doc__"):
        # A dataclass without a docstring gets its signature as one, which Python works
        # out (inspect, tokenize) for each class; `_compile_inits` writes it instead.
        cls.__doc__ = _SIGNATURE_DOC
    dataclass(kw_only=True, init=False, repr=False, eq=False)(cls)
    _PENDING.append(cls)
    if _COMPILED:  # an event class defined after this module loaded
        _compile_inits()
    return cls


_PENDING: list[type] = []
_COMPILED = False
_FACTORY = object()  # "not given": the field's default_factory makes the value
_SIGNATURE_DOC = "(its signature)"


def _compile_inits() -> None:
    """One `exec` for the `__init__` of every pending event class, each as a frozen
    kw_only dataclass's: keyword-only, defaults and default factories, no other check."""
    global _COMPILED
    classes, _PENDING[:] = list(_PENDING), []
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _FACTORY}
    lines: list[str] = []
    docs: list[str] = []
    for index, cls in enumerate(classes):
        params, body, shown = [], [], []
        for f in dataclasses.fields(cls):
            name = value = f.name
            if f.default is not dataclasses.MISSING:
                namespace[f"_d{index}_{name}"] = f.default
                params.append(f"{name}=_d{index}_{name}")
                shown.append(f"{name}={f.default!r}")
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"_f{index}_{name}"] = f.default_factory
                params.append(f"{name}=_FACTORY")
                value = f"_f{index}_{name}() if {name} is _FACTORY else {name}"
                shown.append(f"{name}=<factory>")
            else:
                params.append(name)
                shown.append(name)
            body.append(f"    _set(self, {name!r}, {value})")
        lines.append(f"def _init{index}(self, *, {', '.join(params)}) -> None:")
        lines.extend(body or ["    pass"])
        docs.append(f"{cls.__name__}(*, {', '.join(shown)})")
    exec("\n".join(lines), namespace)
    for index, cls in enumerate(classes):
        init = namespace[f"_init{index}"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        init.__module__ = cls.__module__
        cls.__init__ = init  # type: ignore[misc]
        if cls.__doc__ is _SIGNATURE_DOC:
            cls.__doc__ = docs[index]
        _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    _COMPILED = True


_NAMES: dict[type, tuple[str, ...]] = {}


@frozen_event
class Event:
    """Base of all events. `agent_id` is None for run-level events."""

    kind: ClassVar[str] = "event"
    run_id: str
    agent_id: str | None = None
    ts: float = field(default_factory=_now)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.kind] = cls

    # What `@dataclass(frozen=True)` would generate for each class, once for all.

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{self.__class__.__qualname__}({fields})"

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)  # the fields, in order (`__init__` set each, once)
        data["kind"] = self.kind
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Event:
        """The event `to_dict` made; unknown keys (from a newer version) are ignored."""
        payload = dict(data)
        cls = _REGISTRY[payload.pop("kind")]
        names = _field_names(cls)
        return cls(**{k: v for k, v in payload.items() if k in names})


_FIELDS: dict[type[Event], frozenset[str]] = {}


def _field_names(cls: type[Event]) -> frozenset[str]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    return names


def event_class(kind: str) -> type[Event]:
    return _REGISTRY[kind]


# --- run level -------------------------------------------------------------


@frozen_event
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    task: str
    workspace: str
    ceo_model: str
    simulated: bool
    max_concurrent: int
    resumed_from: str | None = None
    sandbox: str = ""  # sandboxed | unavailable | off ("" in runs recorded before it)
    budget_usd: float | None = None  # the run's dollar budget; None: none


@frozen_event
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: RunStatus
    result: str
    cost_usd: float | None
    verified: bool = False
    error: str = ""  # one line, when the run did not end done/unverified


@frozen_event
class OperatorMessage(Event):
    """The operator said something to the CEO; `queued` if the CEO was busy."""

    kind: ClassVar[str] = "operator_message"
    text: str
    queued: bool = False
    message_id: str = ""


# --- agent lifecycle -------------------------------------------------------


@frozen_event
class AgentSpawned(Event):
    """A new agent (or a new attempt of one) exists. The CEO is agent `ceo`."""

    kind: ClassVar[str] = "agent_spawned"
    role: str
    model: str
    task: str
    attempt: int = 1
    timeout_s: float | None = None
    context_window: int | None = None
    note: str | None = None
    budget_usd: float | None = None  # this attempt's dollar budget
    token_budget: int | None = None


@frozen_event
class AgentQueued(Event):
    """Position in the FIFO queue (1 = next to run). Re-sent as the queue moves."""

    kind: ClassVar[str] = "agent_queued"
    position: int


@frozen_event
class AgentStateChanged(Event):
    kind: ClassVar[str] = "agent_state"
    state: AgentState
    reason: str = ""


@frozen_event
class AgentFinished(Event):
    """A terminal state with its result; follows the final AgentStateChanged."""

    kind: ClassVar[str] = "agent_finished"
    state: AgentState
    result: str
    elapsed_s: float
    attempt: int = 1


@frozen_event
class AgentStalled(Event):
    """A running agent showed no output and no tool progress for `idle_s` (a badge, not a
    state: it keeps running); sent again with `stalled=False` when it moves again."""

    kind: ClassVar[str] = "agent_stalled"
    stalled: bool
    idle_s: float


@frozen_event
class BudgetCrossed(Event):
    """A budget reached 80% (`warn`) or 100% (`spent`): an agent attempt's, or the whole
    run's when `agent_id` is None. `unit` is usd or tokens."""

    kind: ClassVar[str] = "budget"
    level: Literal["warn", "spent"]
    unit: Literal["usd", "tokens"]
    spent: float
    limit: float
    attempt: int = 1


@frozen_event
class TimeoutChanged(Event):
    kind: ClassVar[str] = "timeout_changed"
    timeout_s: float | None
    reason: str = ""


# --- model turns -----------------------------------------------------------


@frozen_event
class TurnStarted(Event):
    kind: ClassVar[str] = "turn_started"
    turn: int
    model: str


@frozen_event
class TextDelta(Event):
    kind: ClassVar[str] = "text_delta"
    turn: int
    text: str


@frozen_event
class ThinkingDelta(Event):
    kind: ClassVar[str] = "thinking_delta"
    turn: int
    text: str


@frozen_event
class TurnEnded(Event):
    kind: ClassVar[str] = "turn_ended"
    turn: int
    stop_reason: str | None
    interrupted: bool = False


@frozen_event
class UsageUpdated(Event):
    """Cumulative usage of one agent attempt (totals, not increments).

    Sent as the API reports usage and, while a reply streams, a few times a second with
    the output counted from the streamed characters (`estimated`), until the API's own
    figures replace it. A reply cut mid-stream (kill, interrupt, timeout) stays
    `estimated`: the API never reported what it generated.
    """

    kind: ClassVar[str] = "usage"
    attempt: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    context_tokens: int = 0
    estimated: bool = False


@frozen_event
class ApiRetry(Event):
    """A model turn failed in a retryable way and will be tried again."""

    kind: ClassVar[str] = "api_retry"
    turn: int
    try_number: int
    delay_s: float
    reason: str


@frozen_event
class MessageAppended(Event):
    """One message added to an agent's conversation, exactly as sent to the API.

    The ordered MessageAppended events of an agent attempt are its conversation:
    the transcript screen shows them and resume rebuilds from them.
    """

    kind: ClassVar[str] = "message"
    attempt: int
    role: Literal["user", "assistant"]
    content: list[dict[str, Any]]


# --- tools -----------------------------------------------------------------


@frozen_event
class ToolCallStarted(Event):
    kind: ClassVar[str] = "tool_started"
    tool_use_id: str
    name: str
    input: dict[str, Any]
    summary: str = ""


@frozen_event
class ToolCallFinished(Event):
    kind: ClassVar[str] = "tool_finished"
    tool_use_id: str
    name: str
    output: str
    is_error: bool = False
    summary: str = ""
    # The tool's structured result, as the engine made it (never sent to the model):
    # a CEO tool's receipt (`spawn_agent`: agent_id, state, queue_position; `run_check`:
    # exit_code, timed_out; ...), a command's exit code. Readers use it, not `output`.
    data: dict[str, Any] | None = None


@frozen_event
class ToolInputStreaming(Event):
    """The model began writing a tool call's input (a whole file for write_file can take
    a while to stream); the call itself starts once the reply has ended."""

    kind: ClassVar[str] = "tool_input"
    turn: int
    tool_use_id: str
    name: str


@frozen_event
class ApprovalRequested(Event):
    kind: ClassVar[str] = "approval_requested"
    request_id: str
    tool: str
    command: str
    cwd: str


@frozen_event
class ApprovalResolved(Event):
    kind: ClassVar[str] = "approval_resolved"
    request_id: str
    decision: ApprovalDecision
    by: str = "operator"


# --- steering --------------------------------------------------------------


@frozen_event
class SteerQueued(Event):
    kind: ClassVar[str] = "steer_queued"
    steer_id: str
    message: str
    interrupt: bool = False
    source: str = "operator"


@frozen_event
class SteerDelivered(Event):
    kind: ClassVar[str] = "steer_delivered"
    steer_id: str
    turn: int


@frozen_event
class Notice(Event):
    """A line for humans: simulator in use, store lag, a warning."""

    kind: ClassVar[str] = "notice"
    level: NoticeLevel = "info"
    text: str


@frozen_event
class CeoWaiting(Event):
    """The CEO's reply ended and it waits for the operator. `answered`: with nothing
    running or queued, so its last reply is the run's answer (until the operator writes)."""

    kind: ClassVar[str] = "ceo_waiting"
    answered: bool = True


# --- evidence: what the engine saw an agent do (never what the model says) --


@frozen_event
class FileChanged(Event):
    """A file changed: by an agent's write_file / edit_file, or found changed on disk
    after a command (`tool` is then run_command or run_check, and `change` says how).
    Hashes are sha256 hex digests; "" where unknown (before a command, or deleted)."""

    kind: ClassVar[str] = "file_changed"
    attempt: int
    tool: str
    path: str  # relative to the workspace
    bytes: int
    sha256_before: str | None  # None: the file did not exist
    sha256_after: str
    change: str = ""  # after a command: created | modified | deleted | unknown (unscanned)


@frozen_event
class CommandRan(Event):
    """A command ran: a sub-agent's run_command or the CEO's run_check."""

    kind: ClassVar[str] = "command_ran"
    attempt: int
    tool: str
    command: str
    exit_code: int | None
    duration_s: float
    timed_out: bool = False


@frozen_event
class UrlFetched(Event):
    kind: ClassVar[str] = "url_fetched"
    attempt: int
    url: str
    status: int | None  # None: no response (refused, unreachable)
    error: str = ""


@frozen_event
class ClaimsFlagged(Event):
    """An agent's final report claims what its evidence does not show."""

    kind: ClassVar[str] = "claims_flagged"
    attempt: int
    claims: list[str]


@frozen_event
class FileCollision(Event):
    """This agent wrote a path another live agent wrote, or one outside the files it owns."""

    kind: ClassVar[str] = "file_collision"
    path: str
    other_agent: str = ""  # empty: a write outside the agent's own files
    text: str = ""


_compile_inits()
