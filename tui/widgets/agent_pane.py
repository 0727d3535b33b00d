"""One sub-agent as a fixed-size pane: header, clock bar, usage, last tool, tail, steers."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Static

from core.cost_meter import fmt_usd
from tui.view_model import (
    AgentView,
    fmt_duration,
    fmt_output,
    fmt_rate,
    fmt_spend,
    fmt_tokens,
    one_line,
    short_model,
)

PANE_HEIGHT = 13
BODY_LINES = PANE_HEIGHT - 2  # inside the border
# A short screen gets shorter panes (see AgentBoard): from this height down the pane
# leaves out its context bar, so the newest output keeps a line or two.
SHORT_BODY = 8
# Colours are the `$legible-*` variables (tui/contrast.py): the theme's own, nudged to
# WCAG AA 4.5:1 where the theme's sit too close to its background.
STATE_STYLE = {
    "queued": "$legible-muted",
    "running": "$legible-success",
    "waiting_approval": "bold $legible-warning",
    "done": "$legible-primary",
    "failed": "bold $legible-error",
    "killed": "$legible-error",
    "timed_out": "$legible-error",
    "interrupted": "$legible-warning",
    "stopped": "$legible-muted",
}
# The title's mark per state: the states that need the operator, or ended badly, read
# without colour (a symbol here and a border style in the CSS below).
STATE_MARK = {
    "queued": "◌",
    "running": "●",
    "waiting_approval": "◷ approval",
    "done": "✓",
    "failed": "✗ failed",
    "killed": "✗ killed",
    "timed_out": "✗ timed out",
    "interrupted": "↯ interrupted",
    "stopped": "■ stopped",
}
STALLED_MARK = "⚠ stalled"
MUTED = "$legible-muted"


def pane_title(agent: AgentView) -> str:
    """`✗ failed · data · data-1`, `● research · research-1`: the state's mark first, so a
    cut title keeps it."""
    mark = STATE_MARK.get(agent.state, agent.state.replace("_", " "))
    if agent.stalled_s is not None and agent.active:
        mark = STALLED_MARK
    gap = " · " if " " in mark else " "
    return f"{mark}{gap}{agent.role} · {agent.agent_id}"


def bar(fraction: float, width: int) -> tuple[str, str]:
    """A horizontal bar and the part left empty."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    return "━" * filled, "╌" * (width - filled)


def clock_style(fraction: float) -> str:
    if fraction >= 0.95:
        return "$legible-error"
    if fraction >= 0.8:
        return "$legible-warning"
    return "$legible-success"


BUDGET_STYLES = {"": MUTED, "warn": "bold $legible-warning", "spent": "bold $legible-error"}


def _budget(agent: AgentView) -> list[str | tuple[str, str]]:
    """`/$0.50` after the cost (or the token budget), in warning colours from 80%."""
    style = BUDGET_STYLES.get(agent.budget_level, MUTED)
    mark = {"warn": " 80%", "spent": " spent"}.get(agent.budget_level, "")
    if agent.budget_usd is not None:
        return [(f"/{fmt_usd(agent.budget_usd)}{mark}", style)]
    if agent.token_budget is not None:
        return [(f" · {fmt_tokens(agent.token_budget)} tok max{mark}", style)]
    return []


def render_agent(agent: AgentView, now: float, width: int, body: int = BODY_LINES) -> Content:
    """The pane body as Content, `body` lines at most; pure so tests and replay can
    compare it."""
    width = max(20, width)
    lines: list[Content] = []
    quiet = agent.finished  # a finished pane is dimmed: one legible muted colour

    def ink(style: str) -> str:
        return MUTED if quiet else style

    badge = agent.state.replace("_", " ")
    if agent.state == "queued" and agent.queue_position:
        badge = f"queued #{agent.queue_position}"
    waited = agent.waiting_for(now) if agent.state == "waiting_approval" else None
    if waited is not None:  # its clock stands still meanwhile
        badge = f"waiting for approval {fmt_duration(waited)}"
    stalled: list[str | tuple[str, str]] = []
    if agent.stalled_s is not None and agent.active:
        stalled = [(f" stalled {fmt_duration(agent.stalled_s)} ", "reverse $legible-warning"), " "]
    lines.append(
        Content.assemble(
            (f" {badge} ", f"reverse {STATE_STYLE.get(agent.state, '')}"),
            " ",
            *stalled,
            (f"attempt {agent.attempt}", "bold" if agent.attempt > 1 else MUTED),
            " · ",
            (short_model(agent.model), ink("$legible-accent")),
            (f" · turn {agent.turn}" if agent.turn else "", MUTED),
        ).truncate(width, ellipsis=True)  # one row: a wrapped badge line pushed the rest down
    )
    lines.append(Content(one_line(agent.task, width)))
    elapsed = agent.elapsed(now)
    frac = agent.timeout_fraction(now)
    if frac is not None and agent.timeout_s:
        label = f" {fmt_duration(elapsed)}/{fmt_duration(agent.timeout_s)}"
        full, empty = bar(frac, max(4, width - len(label)))
        lines.append(Content.assemble((full, ink(clock_style(frac))), (empty, MUTED), label))
    else:
        lines.append(Content.assemble((f"{fmt_duration(elapsed)} (no timeout)", MUTED)))
    lines.append(_usage_line(agent, width))
    ctx = agent.context_fraction
    rate = fmt_rate(agent.tokens_per_s)
    speed = [(f" · {rate}", "" if agent.replying else MUTED)] if rate else []
    if body <= SHORT_BODY:
        pass  # a short pane: no context bar
    elif ctx is not None:
        label = f" ctx {ctx:.0%}"
        full, empty = bar(ctx, max(4, min(20, width - len(label))))
        lines.append(
            Content.assemble((full, ink("$legible-secondary")), (empty, MUTED), label, *speed)
        )
    else:
        lines.append(Content.assemble(("ctx ?", MUTED), *speed))
    if agent.retry_notice:
        lines.append(Content.styled(one_line(agent.retry_notice, width), "$legible-warning"))
    elif agent.last_tool:
        lines.append(
            Content.assemble(("⚙ ", ink("$legible-accent")), one_line(agent.last_tool, width - 2))
        )
    else:
        lines.append(Content.styled("⚙ no tool calls yet", MUTED))
    if agent.has_evidence:
        lines.append(_evidence_line(agent, width))
    for claim in agent.claims[:1]:
        lines.append(
            Content.styled(one_line(f"⚠ unsupported claim: {claim}", width), "$legible-error")
        )
    if agent.collisions:
        text = "⚠ collision: " + ", ".join(agent.collisions)
        lines.append(Content.styled(one_line(text, width), "bold $legible-warning"))
    steer_lines = [
        _steer_line(s.message, s.delivered_turn, s.interrupt, width) for s in agent.steers[-2:]
    ]
    result_line: list[Content] = []
    if agent.finished:
        text = agent.result or agent.reason or agent.state
        result_line.append(Content.assemble(("= ", "bold"), one_line(text, width - 2)))
    room = body - len(lines) - len(steer_lines) - len(result_line)
    for row in agent.tail_view(width, room):
        lines.append(Content.styled(row, MUTED))
    lines.extend(steer_lines)
    lines.extend(result_line)
    return Content("\n").join(lines[:body])


def _usage_line(agent: AgentView, width: int) -> Content:
    """Tokens and cost on one row. The cost stays whole: on a narrow pane the cache
    figures go first, then the input tokens."""
    tok = agent.tokens
    Part = str | tuple[str, str]
    cost: list[Part] = [" · ", (fmt_spend(tok), "bold"), *_budget(agent)]
    output: list[Part] = [(" out ", MUTED), fmt_output(tok)]
    cache: list[Part] = [
        (" cache ", MUTED),
        f"{fmt_tokens(tok.cache_read)}/{fmt_tokens(tok.cache_write)}",
    ]
    inputs: list[Part] = [("in ", MUTED), fmt_tokens(tok.input)]
    for parts in ([*inputs, *output, *cache], [*inputs, *output], output):
        line = Content.assemble(*parts, *cost)
        if line.cell_length <= width:
            return line
    return line.truncate(width, ellipsis=True)


def _evidence_line(agent: AgentView, width: int) -> Content:
    """What the engine saw this attempt do: files written, commands run (failed), URLs."""
    parts: list[str | tuple[str, str]] = [("✓ ", MUTED)]
    parts.append(f"{agent.files_changed} file change{'s' * (agent.files_changed != 1)}")
    parts.append(f" · {agent.commands_run} command{'s' * (agent.commands_run != 1)}")
    if agent.commands_failed:
        parts.append((f" ({agent.commands_failed} failed)", "$legible-error"))
    if agent.urls_fetched:
        parts.append(f" · {agent.urls_fetched} URL{'s' * (agent.urls_fetched != 1)}")
    return Content.assemble(*parts).truncate(width, ellipsis=True)


def _steer_line(message: str, turn: int | None, interrupt: bool, width: int) -> Content:
    where = f"delivered at turn {turn}" if turn is not None else "queued"
    kind = "interrupt" if interrupt else "steer"
    head = f"↳ {kind} {where}: "
    return Content.assemble(
        (head, "$legible-success" if turn is not None else "$legible-warning"),
        one_line(message, max(8, width - len(head))),
    )


class AgentPane(Static, can_focus=True):
    """One slot of the board: shows whichever agent the board binds to it (or nothing).

    Updated with `layout=False`: the size is fixed, so new content is a repaint only.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move('up')", "Up", show=False, id="pane.up"),
        Binding("down,j", "move('down')", "Down", show=False, id="pane.down"),
        Binding("left", "move('left')", "Left", show=False, id="pane.left"),
        Binding("right", "move('right')", "Right", show=False, id="pane.right"),
    ]

    # Each state that needs a look is distinct by more than its colour: focus is a double
    # border, approval a dashed one (and "◷ approval" in the title), failed "✗", stalled
    # "⚠". Titles and text use `$legible-*` (tui/contrast.py); a finished pane is dimmed by
    # a muted colour, not by opacity (which blended its text into the background).
    DEFAULT_CSS = """
    AgentPane {
        height: PANE_HEIGHT;
        border: round $panel-lighten-2;
        border-title-color: $legible-text;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    AgentPane.-empty { visibility: hidden; }
    AgentPane.-finished {
        color: $legible-muted;
        border: round $panel-lighten-1;
        border-title-color: $legible-muted;
    }
    AgentPane.-waiting_approval {
        border: dashed $warning;
        border-title-color: $legible-warning;
        border-title-style: bold;
    }
    AgentPane.-stalled { border: round $warning; border-title-color: $legible-warning; }
    AgentPane.-failed, AgentPane.-timed_out, AgentPane.-killed {
        border: round $error;
        border-title-color: $legible-error;
    }
    AgentPane:focus {
        border: double $accent;
        border-title-color: $legible-accent;
        border-title-style: bold;
    }
    AgentPane.-waiting_approval:focus { border: double $warning; }
    AgentPane.-failed:focus, AgentPane.-timed_out:focus, AgentPane.-killed:focus {
        border: double $error;
    }
    """.replace("PANE_HEIGHT", str(PANE_HEIGHT))

    def __init__(self) -> None:
        super().__init__("", markup=False, classes="-empty")
        self.agent_id: str | None = None
        self._state = ""
        self._last: tuple[AgentView, float] | None = None
        # Set by the board that mounts the pane: moves the focus from it in a direction.
        self.on_move: Callable[[AgentPane, str], None] | None = None

    @property
    def drawn(self) -> bool:
        return self._last is not None

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def bind(self, agent: AgentView, now: float) -> None:
        """Show `agent` in this slot from now on."""
        self.agent_id = agent.agent_id
        self.remove_class("-empty")
        self.show(agent, now)

    def unbind(self) -> None:
        if self.agent_id is None:
            return
        self.agent_id = None
        self._last = None
        self.update("", layout=False)
        self.add_class("-empty")

    def show(self, agent: AgentView, now: float) -> None:
        self._last = (agent, now)
        width = self.content_region.width or 44
        body = self.content_region.height or BODY_LINES
        self.update(render_agent(agent, now, width, body), layout=False)
        title = pane_title(agent)
        if self.border_title != title:
            self.border_title = title
        self.set_class(agent.stalled_s is not None and agent.active, "-stalled")
        if agent.state != self._state or agent.finished != self.has_class("-finished"):
            if self._state:
                self.remove_class(f"-{self._state}")
            self.add_class(f"-{agent.state}")
            self.set_class(agent.finished, "-finished")
            self._state = agent.state

    async def handle_key(self, event: events.Key) -> bool:
        """The pane's own keys (the arrows) act here, at once.

        Textual runs a widget's bindings only once the key has bubbled up to the App, one
        message queue at a time (pane, grid, board, column, body, screen, app), and each
        hop waits a turn of the event loop: with hundreds of agents streaming that is most
        of the time from a key to its frame. The pane is the first link of the binding
        chain, so no other binding could take these keys first; any other key bubbles on.
        """
        if await super().handle_key(event):
            return True
        active = self.screen.active_bindings.get(event.key)  # after `[keys]` remaps
        if active is None or active.node is not self or active.binding.priority:
            return False  # not this pane's key (or the pane is not the focused widget)
        if await self.app.run_action(active.binding.action, self):
            event.stop()
            return True
        return False

    def action_move(self, direction: str) -> None:
        """Arrow keys: the board that holds this pane moves the focus (`on_move`)."""
        if self.on_move is not None:
            self.on_move(self, direction)
