"""The run as plain data: events in, a board and a CEO chat out. No Textual here.

The same `RunView` is fed by the live bus and by a replay from the store, so the
screen cannot tell them apart. Widgets read it on a timer; `dirty_*` say what changed.
"""

from __future__ import annotations

import collections
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from core.agent_summary import AgentSummary
from core.catalog import Catalog
from core.events import (
    CEO_ID,
    TERMINAL_STATES,
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentStalled,
    AgentState,
    AgentStateChanged,
    ApiRetry,
    ApprovalRequested,
    ApprovalResolved,
    BudgetCrossed,
    CeoWaiting,
    ClaimsFlagged,
    CommandRan,
    Event,
    FileChanged,
    FileCollision,
    MessageAppended,
    Notice,
    NoticeLevel,
    OperatorMessage,
    RunFinished,
    RunStarted,
    RunStatus,
    SteerDelivered,
    SteerQueued,
    TextDelta,
    ThinkingDelta,
    TimeoutChanged,
    ToolCallFinished,
    ToolCallStarted,
    ToolInputStreaming,
    TurnEnded,
    TurnStarted,
    UrlFetched,
    UsageUpdated,
)
from core.outcome import Verification
from core.queue_positions import QueuePositions
from tui.spend_timeline import SpendTimeline

TAIL_LINES = 40
LINE_CAP = 400  # characters kept of a tail line (its end: the newest text)
REPLY_CAP = 20_000  # characters kept of the reply streaming now (the transcript's live part)
RATE_MIN_SPAN_S = 0.2  # a reply's tokens per second shows once it has streamed this long
CHAT_CAP = 2000
STEERS_KEPT = 6
ACTIVE_STATES = frozenset({"running", "waiting_approval"})
# What a line of the CEO's column is.
ChatKind = Literal["operator", "ceo", "tool", "notice"]
# How much of a budget is spent: "" (under 80%), "warn" (80%) or "spent".
BudgetMark = Literal["", "warn", "spent"]


def short_model(model: str) -> str:
    for word in ("opus", "sonnet", "haiku"):
        if word in model:
            return word
    return model


def fmt_tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def fmt_cost(cost: float | None) -> str:
    return "$?" if cost is None else f"${cost:.4f}"


ESTIMATE_MARK = "~"  # before a figure that is (partly) estimated from streamed text


def fmt_output(tokens: Tokens) -> str:
    """Output tokens, `~` first while (part of) the count is an estimate."""
    return (ESTIMATE_MARK if tokens.estimated else "") + fmt_tokens(tokens.output)


def fmt_spend(tokens: Tokens) -> str:
    """The cost, `~` first while (part of) it is an estimate."""
    mark = ESTIMATE_MARK if tokens.estimated and tokens.cost is not None else ""
    return mark + fmt_cost(tokens.cost)


def fmt_rate(tokens_per_s: float | None) -> str:
    return "" if tokens_per_s is None else f"{tokens_per_s:.0f} tok/s"


def cap_line(line: str) -> str:
    """A tail line of at most LINE_CAP characters: its end (the newest text) when longer."""
    return line if len(line) <= LINE_CAP else "…" + line[-(LINE_CAP - 1) :]


def wrap_tail(lines: list[str], width: int, rows: int) -> list[str]:
    """The last `rows` screen rows of `lines` wrapped at `width` (the newest text)."""
    out: list[str] = []
    width = max(1, width)
    for line in reversed(lines):
        if len(out) >= rows:
            break
        text = " ".join(line.split())
        out[:0] = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    return out[-rows:] if rows > 0 else []


def tail_rows(lines: list[str], partial: str, width: int, rows: int) -> list[str]:
    """A pane's tail in `rows` rows: finished lines one row each (their start), and the
    line still streaming wrapped so that its newest text shows as it grows (`…` first
    when its start no longer fits; one finished line stays above it when there is one)."""
    if rows <= 0:
        return []
    width = max(2, width)
    out: list[str] = []
    if partial.strip():
        out = textwrap.wrap(" ".join(partial.split()), width, break_on_hyphens=False)
        keep = max(1, rows - 1) if lines else rows
        if len(out) > keep:
            out = out[-keep:]
            first = out[0]
            out[0] = "…" + (first if len(first) < width else first[1:])
    room = rows - len(out)
    done = [one_line(line, width) for line in lines[-room:]] if room > 0 else []
    return done + out


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def one_line(text: str, cap: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= cap else text[: cap - 1] + "…"


@dataclass
class SteerReceipt:
    steer_id: str
    message: str
    interrupt: bool
    source: str
    delivered_turn: int | None = None


@dataclass
class Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float | None = 0.0
    estimated: bool = False  # output (and cost) partly counted from streamed text

    def plus(self, other: Tokens) -> Tokens:
        cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            cost,
            self.estimated or other.estimated,
        )


@dataclass
class AgentView:
    """One agent (its latest attempt), everything a pane shows."""

    agent_id: str
    role: str
    model: str
    task: str
    attempt: int = 1
    state: AgentState = "queued"
    reason: str = ""
    queue_position: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    timeout_s: float | None = None
    context_window: int | None = None
    context_tokens: int = 0
    turn: int = 0
    note: str | None = None
    result: str = ""
    last_tool: str = ""
    retry_notice: str = ""
    prior: Tokens = field(default_factory=Tokens)
    current: Tokens = field(default_factory=Tokens)
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    partial: str = ""
    steers: list[SteerReceipt] = field(default_factory=list)
    messages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cleared: bool = False
    order: int = 0
    # The engine's evidence for the latest attempt (core/evidence.py), and its badges.
    files_changed: int = 0
    commands_run: int = 0
    commands_failed: int = 0
    urls_fetched: int = 0
    claims: list[str] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)

    @property
    def has_evidence(self) -> bool:
        return bool(self.files_changed or self.commands_run or self.urls_fetched)

    budget_usd: float | None = None  # this attempt's dollar budget
    token_budget: int | None = None
    budget_level: BudgetMark = ""  # of this attempt's budgets
    stalled_s: float | None = None  # the stalled badge: idle this long (None: moving)
    # The reply streaming now (from TurnStarted until its message is appended), for the
    # transcript's live part: text chunks, newest last, about REPLY_CAP characters kept.
    reply_parts: list[str] = field(default_factory=list)
    reply_chars: int = 0
    replying: bool = False  # inside a model reply (TurnStarted .. TurnEnded)
    # A tool call whose input the model is writing now (its name), and the output count
    # when it began: the tail's last row says how much of it has streamed.
    composing: str = ""
    composing_base: int = 0
    # Output speed, from the usage events' timestamps (a replay computes the same): the
    # reply's output since its first usage report over the time since then.
    rate_start: float | None = None  # ts of the reply's first usage report
    rate_base: int = 0  # output tokens then
    rate_end: float | None = None  # ts of its latest usage report
    rate_tokens: int = 0  # output tokens between the two
    last_rate: float | None = None  # the last reply's tokens per second
    streamed_tokens: int = 0  # output of finished replies (all attempts), for the average
    streamed_s: float = 0.0

    @property
    def reply(self) -> str:
        return "".join(self.reply_parts)

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of the reply streaming now (of the last one between
        replies); None before any reply streamed long enough to tell."""
        if self.rate_start is not None and self.rate_end is not None:
            span = self.rate_end - self.rate_start
            if span >= RATE_MIN_SPAN_S:
                return self.rate_tokens / span
        return self.last_rate

    @property
    def avg_tokens_per_s(self) -> float | None:
        """Output tokens per second over every reply of the agent (time streaming only)."""
        tokens, span = self.streamed_tokens, self.streamed_s
        if self.rate_start is not None and self.rate_end is not None:
            tokens += self.rate_tokens
            span += self.rate_end - self.rate_start
        return tokens / span if span >= RATE_MIN_SPAN_S else None

    def end_reply_rate(self) -> None:
        """The reply ended: its rate becomes the last rate and counts in the average."""
        if self.rate_start is not None and self.rate_end is not None:
            span = self.rate_end - self.rate_start
            if span > 0:
                self.streamed_tokens += self.rate_tokens
                self.streamed_s += span
            if span >= RATE_MIN_SPAN_S:
                self.last_rate = self.rate_tokens / span
        self.rate_start = self.rate_end = None
        self.rate_tokens = 0

    def add_reply(self, text: str) -> None:
        self.reply_parts.append(text)
        self.reply_chars += len(text)
        if self.reply_chars > REPLY_CAP * 2:  # keep the newest REPLY_CAP, rarely
            kept = self.reply[-REPLY_CAP:]
            self.reply_parts, self.reply_chars = [kept], len(kept)

    def clear_reply(self) -> None:
        self.reply_parts = []
        self.reply_chars = 0

    # Its timeout clock stands still while it waits for the operator's approval.
    waited_s: float = 0.0  # earlier waits of this attempt
    waiting_since: float | None = None  # when the current wait began

    @property
    def tokens(self) -> Tokens:
        return self.prior.plus(self.current)

    def summary(self, now: float) -> AgentSummary:
        """The agent as of `now` in the shape the store and the `--json` summary give it
        (the figures may still hold an estimate while a reply streams)."""
        tokens = self.tokens
        return AgentSummary(
            agent_id=self.agent_id,
            role=self.role,
            model=self.model,
            task=self.task,
            state=self.state,
            attempt=self.attempt,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read,
            cache_write_tokens=tokens.cache_write,
            cost_usd=tokens.cost,
            elapsed_s=self.elapsed(now),
            timeout_s=self.timeout_s,
            result=self.result if self.finished else None,
        )

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def elapsed(self, now: float) -> float:
        """Its own time, the timeout clock: waits for approval are not counted."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else now
        waiting = max(0.0, end - self.waiting_since) if self.waiting_since is not None else 0.0
        return max(0.0, end - self.started_at - self.waited_s - waiting)

    def waiting_for(self, now: float) -> float | None:
        """How long its command has waited for the operator's approval (None: not waiting)."""
        if self.waiting_since is None:
            return None
        return max(0.0, now - self.waiting_since)

    def timeout_fraction(self, now: float) -> float | None:
        if not self.timeout_s:
            return None
        return self.elapsed(now) / self.timeout_s

    @property
    def context_fraction(self) -> float | None:
        if not self.context_window:
            return None
        return min(1.0, self.context_tokens / self.context_window)

    def tail_view(self, width: int, rows: int) -> list[str]:
        """The tail as `rows` screen rows of `width` (see `tail_rows`); while the model
        writes a tool call's input, its last row says which call and how far it is."""
        composing = self.composing_line()
        if not composing or rows <= 0:
            return tail_rows(list(self.tail)[-rows:], self.partial, width, rows)
        row = one_line(composing, width)
        return [*tail_rows(list(self.tail)[-(rows - 1) :], self.partial, width, rows - 1), row]

    def composing_line(self) -> str:
        """`✎ write_file input: ~120 tokens so far` while the model writes a call's input."""
        if not self.composing:
            return ""
        tokens = self.tokens
        so_far = max(0, tokens.output - self.composing_base)
        mark = ESTIMATE_MARK if tokens.estimated else ""
        return f"✎ {self.composing} input: {mark}{so_far} tokens so far"

    def tail_lines(self, n: int) -> list[str]:
        lines = list(self.tail)
        if self.partial:
            lines.append(self.partial)
        return lines[-n:] if n > 0 else []

    def add_text(self, text: str) -> None:
        if "\n" not in text:  # most deltas: the unfinished line grows
            self.partial = cap_line(self.partial + text)
            return
        parts = (self.partial + text).split("\n")
        for line in parts[:-1]:
            if line.strip():
                self.tail.append(cap_line(line))
        self.partial = cap_line(parts[-1])

    def add_line(self, line: str) -> None:
        self.end_line()
        self.tail.append(line[:LINE_CAP])

    def end_line(self) -> None:
        """Move the unfinished last line (if any) into the tail, once."""
        if self.partial.strip():
            self.tail.append(self.partial)
        self.partial = ""


INTERRUPTED_OUTPUT = "interrupted: the run stopped before this tool call finished"
OUTPUT_CAP = 100_000  # characters of a CEO tool's output kept for its opened line


@dataclass
class ChatItem:
    """One entry of the CEO conversation column."""

    item_id: int
    kind: ChatKind
    text: str = ""
    queued: bool = False
    streaming: bool = False
    level: NoticeLevel = "info"
    detail: str = ""
    done: bool = False
    is_error: bool = False
    tool_use_id: str = ""
    turn: int = 0
    # A CEO tool call's name, input and output, drawn for people when its line is opened.
    tool_name: str = ""
    tool_input: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    interrupted: bool = False  # a CEO tool call its run ended before it finished


@dataclass
class ApprovalView:
    request_id: str
    agent_id: str
    tool: str
    command: str
    cwd: str
    ts: float


@dataclass
class Totals:
    running: int = 0
    queued: int = 0
    done: int = 0
    failed: int = 0
    stopped: int = 0  # ended by the operator's quit: not a failure
    tokens: Tokens = field(default_factory=Tokens)


class RunView:
    """Applies events to plain data. `apply` is cheap: it is called for every token."""

    def __init__(self, context_window: Callable[[str], int | None] | None = None) -> None:
        self.context_window = context_window or Catalog().context_window
        self.run_id = ""
        self.task = ""
        self.workspace = ""
        self.simulated = False
        self.sandbox = ""  # sandboxed | unavailable | off ("" before it was recorded)
        self.status: RunStatus = "running"
        self.result = ""
        self.budget_usd: float | None = None  # the run's dollar budget
        self.budget_level: BudgetMark = ""
        self.started_at: float | None = None
        self.last_ts = 0.0
        self.ceo: AgentView | None = None
        self.agents: dict[str, AgentView] = {}
        self.chat: list[ChatItem] = []
        self.approvals: dict[str, ApprovalView] = {}
        self.notices: list[tuple[str, str]] = []
        self.ceo_in_turn = False
        self.answered = False  # the CEO gave its answer and waits for the operator
        self.verification = Verification()  # the run's checks against its last file change
        self.spend = SpendTimeline()  # each agent's cost over time, for the dashboard
        self.events_applied = 0
        self.dirty_agents: set[str] = set()
        self.dirty_chat: set[int] = set()
        self.dirty_run = True
        self._next_item = 0
        self._ceo_text: ChatItem | None = None
        self._ceo_tools: dict[str, ChatItem] = {}
        self._tool_meta: dict[str, tuple[str, dict[str, Any]]] = {}
        self._order = 0
        self._queue = QueuePositions()

    # --- queries -------------------------------------------------------------

    def board(self) -> list[AgentView]:
        """Sub-agents in spawn order, cleared ones left out."""
        return sorted((a for a in self.agents.values() if not a.cleared), key=lambda a: a.order)

    def totals(self) -> Totals:
        t = Totals()
        everyone = list(self.agents.values()) + ([self.ceo] if self.ceo else [])
        for a in everyone:
            t.tokens = t.tokens.plus(a.tokens)
            if a.agent_id == CEO_ID:
                continue
            if a.state in ACTIVE_STATES:
                t.running += 1
            elif a.state == "queued":
                t.queued += 1
            elif a.state == "done":
                t.done += 1
            elif a.state == "stopped":
                t.stopped += 1
            elif a.state in TERMINAL_STATES:
                t.failed += 1
        return t

    @property
    def display_status(self) -> str:
        """The run's status for the header: "answered" while a live run waits for the operator."""
        return "answered" if self.status == "running" and self.answered else self.status

    @property
    def outcome_line(self) -> str:
        """What the header says after the status once the CEO has answered, else ''."""
        if self.display_status in ("answered", "done", "unverified"):
            return self.verification.headline()
        return ""

    @property
    def ceo_busy(self) -> bool:
        """The CEO is replying or running a tool (waiting for agents included)."""
        return self.ceo_in_turn or bool(self._ceo_tools)

    def oldest_approval(self) -> ApprovalView | None:
        return next(iter(self.approvals.values()), None)

    def clear_finished(self) -> int:
        n = 0
        for a in self.agents.values():
            if a.finished and not a.cleared:
                a.cleared = True
                n += 1
        if n:
            self.dirty_run = True
        return n

    def take_dirty(self) -> tuple[set[str], set[int], bool]:
        agents, chat, run = self.dirty_agents, self.dirty_chat, self.dirty_run
        self.dirty_agents, self.dirty_chat, self.dirty_run = set(), set(), False
        return agents, chat, run

    # --- events --------------------------------------------------------------

    def apply(self, ev: Event) -> None:
        self.events_applied += 1
        self.last_ts = max(self.last_ts, ev.ts)
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)
        if type(ev) in _SPEND_EVENTS:
            agent = self._agent(ev.agent_id)
            if agent is not None:
                tokens = agent.tokens
                self.spend.observe(ev.ts, agent.agent_id, tokens.cost, tokens.output)

    def _agent(self, agent_id: str | None) -> AgentView | None:
        if agent_id == CEO_ID:
            return self.ceo
        return self.agents.get(agent_id or "")

    def _touch(self, agent: AgentView) -> None:
        if agent.agent_id == CEO_ID:
            self.dirty_run = True
        else:
            self.dirty_agents.add(agent.agent_id)

    def _item(self, kind: ChatKind, **fields: Any) -> ChatItem:
        item = ChatItem(item_id=self._next_item, kind=kind, **fields)
        self._next_item += 1
        self.chat.append(item)
        if len(self.chat) > CHAT_CAP:
            del self.chat[: len(self.chat) - CHAT_CAP]
        self.dirty_chat.add(item.item_id)
        return item

    def _set_answered(self, answered: bool) -> None:
        if answered != self.answered:
            self.answered = answered
            self.dirty_run = True

    def _run_started(self, ev: RunStarted) -> None:
        self._set_answered(False)
        self._cut_ceo_tools()  # a resumed run: a call the last session left open never ends
        self.run_id = ev.run_id
        self.task = ev.task
        self.workspace = ev.workspace
        self.simulated = ev.simulated
        self.sandbox = ev.sandbox
        self.budget_usd = ev.budget_usd
        self.budget_level = ""
        self.started_at = ev.ts
        self.status = "running"
        self.dirty_run = True

    def _evidence(self, ev: FileChanged | CommandRan | UrlFetched) -> None:
        self.verification.observe(ev)
        self.dirty_run = True
        agent = self._agent(ev.agent_id)
        if agent is None or ev.attempt != agent.attempt:
            return
        if isinstance(ev, FileChanged):
            agent.files_changed += 1
        elif isinstance(ev, CommandRan):
            agent.commands_run += 1
            agent.commands_failed += ev.exit_code != 0 or ev.timed_out
        else:
            agent.urls_fetched += 1
        self._touch(agent)

    def _claims(self, ev: ClaimsFlagged) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None or ev.attempt != agent.attempt:
            return
        agent.claims = list(ev.claims)
        self._touch(agent)
        if agent.agent_id != CEO_ID:
            self._item(
                "notice",
                text=f"{agent.agent_id}: unsupported claim",
                detail=one_line("; ".join(ev.claims), 200),
                level="warning",
            )

    def _collision(self, ev: FileCollision) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        where = f"{ev.path} (also {ev.other_agent})" if ev.other_agent else f"{ev.path} (not owned)"
        if where not in agent.collisions:
            agent.collisions.append(where)
        self._touch(agent)

    def _run_finished(self, ev: RunFinished) -> None:
        self._cut_ceo_tools()
        self.status = ev.status
        self.result = ev.result
        self.dirty_run = True

    def _operator(self, ev: OperatorMessage) -> None:
        self._set_answered(False)
        if not self.task.strip():  # a run started without a task: the first message is it
            self.task = ev.text
            self.dirty_run = True
            ceo = self._agent(CEO_ID)
            if ceo is not None and not ceo.task:
                ceo.task = ev.text
                self._touch(ceo)
        self._item("operator", text=ev.text, queued=ev.queued)

    def _spawned(self, ev: AgentSpawned) -> None:
        agent_id = ev.agent_id or ""
        old = self._agent(agent_id)
        view = AgentView(
            agent_id=agent_id,
            role=ev.role,
            model=ev.model,
            task=ev.task,
            attempt=ev.attempt,
            timeout_s=ev.timeout_s,
            context_window=ev.context_window or self.context_window(ev.model),
            note=ev.note,
            budget_usd=ev.budget_usd,
            token_budget=ev.token_budget,
        )
        if old is not None:
            view.prior = old.prior.plus(old.current)
            view.streamed_tokens, view.streamed_s = old.streamed_tokens, old.streamed_s
            view.last_rate = old.last_rate
            view.steers = old.steers
            view.messages = old.messages
            view.order = old.order
            if ev.attempt > 1:
                view.add_line(f"── attempt {ev.attempt}" + (f": {ev.note}" if ev.note else ""))
        else:
            self._order += 1
            view.order = self._order
        if agent_id == CEO_ID:
            self.ceo = view
            self.dirty_run = True
        else:
            self._set_answered(False)
            self.agents[agent_id] = view
            self.dirty_agents.add(agent_id)
            self.dirty_run = True

    def _queued(self, ev: AgentQueued) -> None:
        agent = self._agent(ev.agent_id)
        if agent is not None:
            agent.queue_position = ev.position
            self._queue.enter(agent.agent_id, ev.position)
            self._touch(agent)

    def _left_queue(self, agent: AgentView) -> None:
        """Positions are announced once; an agent leaving moves those behind it up."""
        for other in self._queue.leave(agent.agent_id):
            moved = self.agents.get(other)
            if moved is not None:
                moved.queue_position = self._queue.get(other)
                self.dirty_agents.add(other)

    def _state(self, ev: AgentStateChanged) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.state = ev.state
        agent.reason = ev.reason
        if agent.agent_id != CEO_ID and not agent.finished:
            self._set_answered(False)
        if ev.state != "queued":
            agent.queue_position = None
            self._left_queue(agent)
        if ev.state not in ACTIVE_STATES:
            agent.stalled_s = None
        if ev.state == "waiting_approval":
            if agent.waiting_since is None:
                agent.waiting_since = ev.ts
        elif agent.waiting_since is not None:
            agent.waited_s += max(0.0, ev.ts - agent.waiting_since)
            agent.waiting_since = None
        if ev.state in ACTIVE_STATES and agent.started_at is None:
            agent.started_at = ev.ts
        if ev.state in TERMINAL_STATES and agent.finished_at is None:
            agent.finished_at = ev.ts
            if agent.started_at is None:
                agent.started_at = ev.ts
        self._touch(agent)
        self.dirty_run = True

    def _finished(self, ev: AgentFinished) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.result = ev.result
        agent.state = ev.state
        if agent.finished_at is None:
            agent.finished_at = ev.ts
        self._touch(agent)
        self.dirty_run = True
        if agent.agent_id != CEO_ID:
            # A retried agent's ends name the attempt: two "coding-1 done after …" lines
            # read as one end told twice.
            who = agent.agent_id if ev.attempt < 2 else f"{agent.agent_id} (attempt {ev.attempt})"
            head = f"{who} {ev.state} after {fmt_duration(ev.elapsed_s)}"
            self._item(
                "notice",
                text=head,
                detail=one_line(ev.result, 200),
                level="info" if ev.state == "done" else "warning",
            )

    def _stalled(self, ev: AgentStalled) -> None:
        agent = self._agent(ev.agent_id)
        if agent is not None:
            agent.stalled_s = ev.idle_s if ev.stalled else None
            self._touch(agent)

    def _budget(self, ev: BudgetCrossed) -> None:
        if ev.agent_id is None:
            self.budget_level = ev.level
            self.dirty_run = True
            return
        agent = self._agent(ev.agent_id)
        if agent is not None and ev.attempt == agent.attempt:
            if ev.level == "spent" or not agent.budget_level:
                agent.budget_level = ev.level
            self._touch(agent)

    def _timeout(self, ev: TimeoutChanged) -> None:
        agent = self._agent(ev.agent_id)
        if agent is not None:
            agent.timeout_s = ev.timeout_s
            self._touch(agent)

    def _turn_started(self, ev: TurnStarted) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.turn = ev.turn
        if ev.model != agent.model:
            agent.model = ev.model
            agent.context_window = self.context_window(ev.model) or agent.context_window
        agent.retry_notice = ""
        agent.clear_reply()
        agent.replying = True
        agent.composing = ""
        agent.end_reply_rate()
        self._touch(agent)
        if agent.agent_id == CEO_ID:
            self.ceo_in_turn = True
            self._set_answered(False)
            for item in self.chat:
                if item.kind == "operator" and item.queued and not item.done:
                    item.done = True
                    self.dirty_chat.add(item.item_id)

    def _text(self, ev: TextDelta) -> None:
        if ev.agent_id == CEO_ID:
            item = self._ceo_text
            if item is None or item.turn != ev.turn or not item.streaming:
                item = self._item("ceo", streaming=True, turn=ev.turn)
                self._ceo_text = item
            item.text += ev.text
            self.dirty_chat.add(item.item_id)
            if self.ceo is not None:
                self.ceo.add_reply(ev.text)
            return
        agent = self.agents.get(ev.agent_id or "")
        if agent is not None:
            agent.add_text(ev.text)
            agent.add_reply(ev.text)
            self.dirty_agents.add(agent.agent_id)

    def _turn_ended(self, ev: TurnEnded) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.replying = False
        agent.composing = ""
        agent.end_reply_rate()
        if agent.agent_id == CEO_ID:
            self.ceo_in_turn = False
            spoke = self._ceo_text is not None and bool(self._ceo_text.text.strip())
            if ev.stop_reason == "end_turn" and spoke and not self._sub_agents_active():
                self._set_answered(True)
            if self._ceo_text is not None:
                self._ceo_text.streaming = False
                self.dirty_chat.add(self._ceo_text.item_id)
                self._ceo_text = None
            self.dirty_run = True
        elif agent.partial.strip():
            agent.end_line()
            self._touch(agent)

    def _sub_agents_active(self) -> bool:
        return any(not a.finished for a in self.agents.values())

    def _usage(self, ev: UsageUpdated) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.current = Tokens(
            ev.input_tokens,
            ev.output_tokens,
            ev.cache_read_tokens,
            ev.cache_write_tokens,
            ev.cost_usd,
            ev.estimated,
        )
        agent.context_tokens = ev.context_tokens
        if agent.replying:
            if agent.rate_start is None:
                agent.rate_start, agent.rate_base = ev.ts, ev.output_tokens
            else:
                agent.rate_end = ev.ts
                agent.rate_tokens = max(0, ev.output_tokens - agent.rate_base)
        self._touch(agent)
        self.dirty_run = True

    def _api_retry(self, ev: ApiRetry) -> None:
        agent = self._agent(ev.agent_id)
        if agent is not None:
            agent.retry_notice = f"API retry {ev.try_number} in {ev.delay_s:.0f}s: {ev.reason}"
            agent.rate_start = agent.rate_end = None  # the next try's speed, not the wait
            agent.rate_tokens = 0
            agent.clear_reply()
            agent.composing = ""
            self._touch(agent)

    def _message(self, ev: MessageAppended) -> None:
        agent = self._agent(ev.agent_id)
        if agent is not None:
            agent.messages.setdefault(ev.attempt, []).append(
                {"role": ev.role, "content": ev.content}
            )
            if ev.role == "assistant":
                agent.clear_reply()  # the streamed reply is in the conversation now

    def _tool_input(self, ev: ToolInputStreaming) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.composing = ev.name
        agent.composing_base = agent.tokens.output
        self._touch(agent)

    def _tool_started(self, ev: ToolCallStarted) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.composing = ""
        summary = ev.summary or ev.name
        agent.last_tool = summary
        if agent.agent_id == CEO_ID:
            item = self._item("tool", text=summary, tool_use_id=ev.tool_use_id)
            item.tool_name, item.tool_input = ev.name, dict(ev.input)
            self._ceo_tools[ev.tool_use_id] = item
            self._tool_meta[ev.tool_use_id] = (ev.name, ev.input)
        else:
            agent.add_line(f"→ {one_line(summary, LINE_CAP)}")
        self._touch(agent)

    def _tool_finished(self, ev: ToolCallFinished) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        if agent.agent_id == CEO_ID:
            item = self._ceo_tools.pop(ev.tool_use_id, None)
            name, args = self._tool_meta.pop(ev.tool_use_id, (ev.name, {}))
            if item is None:
                return
            item.done = True
            item.is_error = ev.is_error
            item.text = self.describe_ceo_tool(name, args, ev.data or {}, ev.is_error, ev.output)
            item.output = ev.output[:OUTPUT_CAP]
            self.dirty_chat.add(item.item_id)
        elif ev.is_error:
            agent.add_line(f"✗ {one_line(ev.output, LINE_CAP)}")
            self._touch(agent)

    def _cut_ceo_tools(self) -> None:
        """The CEO's calls still open when its run ended (stopped, failed, or the app died):
        shown as interrupted, not as running, and no longer counted as the CEO working."""
        for tool_use_id, item in self._ceo_tools.items():
            self._tool_meta.pop(tool_use_id, None)
            item.done = True
            item.is_error = True
            item.interrupted = True
            item.text = f"{item.text}: interrupted (the run stopped before it finished)"
            item.output = INTERRUPTED_OUTPUT
            self.dirty_chat.add(item.item_id)
        self._ceo_tools.clear()

    def _approval_requested(self, ev: ApprovalRequested) -> None:
        self.approvals[ev.request_id] = ApprovalView(
            ev.request_id, ev.agent_id or "", ev.tool, ev.command, ev.cwd, ev.ts
        )
        self.dirty_run = True

    def _approval_resolved(self, ev: ApprovalResolved) -> None:
        if self.approvals.pop(ev.request_id, None) is not None:
            self.dirty_run = True

    def _steer_queued(self, ev: SteerQueued) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        agent.steers.append(SteerReceipt(ev.steer_id, ev.message, ev.interrupt, ev.source))
        del agent.steers[:-STEERS_KEPT]
        self._touch(agent)

    def _steer_delivered(self, ev: SteerDelivered) -> None:
        agent = self._agent(ev.agent_id)
        if agent is None:
            return
        for receipt in agent.steers:
            if receipt.steer_id == ev.steer_id:
                receipt.delivered_turn = ev.turn
        self._touch(agent)

    def _notice(self, ev: Notice) -> None:
        self.notices.append((ev.level, ev.text))
        del self.notices[:-20]
        if ev.level != "info" or ev.agent_id == CEO_ID:
            self._item("notice", text=ev.text, level=ev.level)

    def _ceo_waiting(self, ev: CeoWaiting) -> None:
        if ev.answered and not self._sub_agents_active():
            self._set_answered(True)

    # --- CEO tool lines ------------------------------------------------------

    def describe_ceo_tool(
        self, name: str, args: dict[str, Any], data: dict[str, Any], is_error: bool, output: str
    ) -> str:
        """A compact line for a CEO tool call, e.g. "spawned coding-2: task · haiku · 15m",
        from the tool's receipt (`data`); an error shows its `output`."""
        if is_error:
            return f"{name} failed: {one_line(output, 100)}"
        if name == "spawn_agent":
            agent_id = str(data.get("agent_id", "?"))
            agent = self.agents.get(agent_id)
            model = short_model(agent.model if agent else str(args.get("model") or ""))
            timeout = agent.timeout_s if agent else args.get("timeout_s")
            parts = [f"spawned {agent_id}: {one_line(str(args.get('task', '')), 60)}"]
            if model:
                parts.append(model)
            if timeout:
                parts.append(f"{float(timeout) / 60:g}m")
            if data.get("state") == "queued":
                parts.append(f"queued #{data.get('queue_position', '?')}")
            return " · ".join(parts)
        if name == "run_check":
            command = one_line(str(args.get("command", "")), 60)
            return f"ran check: {command} → exit {data.get('exit_code', '?')}"
        if name == "wait_for_agents":
            agents = data.get("agents") or []
            states = collections.Counter(str(a.get("state")) for a in agents if isinstance(a, dict))
            ended = ", ".join(f"{n} {s}" for s, n in states.items()) or "none ended"
            still = data.get("still_running") or []
            more = f", {len(still)} still running" if still else ""
            return f"waited for agents → {ended}{more}"
        if name == "steer_agent":
            return f"steered {args.get('agent_id')}: {one_line(str(args.get('message', '')), 60)}"
        if name == "kill_agent":
            return f"killed {args.get('agent_id')} → {data.get('state', '?')}"
        if name == "retry_agent":
            return f"retried {args.get('agent_id')} → attempt {data.get('attempt', '?')}"
        if name == "read_file":
            return f"read {args.get('path')}"
        shown = ", ".join(f"{k}: {v}" for k, v in args.items())  # never JSON: a line to read
        return f"{name} {one_line(shown, 60)}".rstrip()


# Events after which an agent's figures may have moved (the dashboard's spend over time).
_SPEND_EVENTS: frozenset[type[Event]] = frozenset(
    {UsageUpdated, TextDelta, ThinkingDelta, TurnEnded, AgentFinished}
)

_HANDLERS: dict[type[Event], Any] = {
    RunStarted: RunView._run_started,
    RunFinished: RunView._run_finished,
    OperatorMessage: RunView._operator,
    AgentSpawned: RunView._spawned,
    AgentQueued: RunView._queued,
    AgentStateChanged: RunView._state,
    AgentFinished: RunView._finished,
    TimeoutChanged: RunView._timeout,
    AgentStalled: RunView._stalled,
    BudgetCrossed: RunView._budget,
    TurnStarted: RunView._turn_started,
    TextDelta: RunView._text,
    TurnEnded: RunView._turn_ended,
    UsageUpdated: RunView._usage,
    ApiRetry: RunView._api_retry,
    MessageAppended: RunView._message,
    ToolInputStreaming: RunView._tool_input,
    ToolCallStarted: RunView._tool_started,
    ToolCallFinished: RunView._tool_finished,
    ApprovalRequested: RunView._approval_requested,
    ApprovalResolved: RunView._approval_resolved,
    SteerQueued: RunView._steer_queued,
    SteerDelivered: RunView._steer_delivered,
    Notice: RunView._notice,
    CeoWaiting: RunView._ceo_waiting,
    FileChanged: RunView._evidence,
    CommandRan: RunView._evidence,
    UrlFetched: RunView._evidence,
    ClaimsFlagged: RunView._claims,
    FileCollision: RunView._collision,
}
