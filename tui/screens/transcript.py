"""One agent's whole conversation (all attempts), following live; `e` exports Markdown.

The log holds the conversation's messages; below it, the reply streaming now grows as
its text arrives, until its message joins the log.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import RichLog, Static

from core.export import conversation_markdown
from tui.tool_render import (
    RESULT_LINES,
    Palette,
    more_line,
    palette_for,
    result_lines,
    tool_input,
)
from tui.view_model import (
    AgentView,
    RunView,
    fmt_output,
    fmt_rate,
    fmt_spend,
    short_model,
    wrap_tail,
)
from tui.widgets.steady_footer import SteadyFooter

MAX_LINES = 5000
LIVE_ROWS = 12  # rows of the streaming reply shown under the log (its newest text)
REFRESH_S = 0.125
DEFAULT_PALETTE = Palette()
Expanded = bool | Collection[str]  # True: every item open; else the ids of the open ones


class TranscriptScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="transcript.back"),
        Binding("e", "export", "Export Markdown", id="transcript.export"),
        Binding("end,G", "follow", "Follow", id="transcript.follow"),
        Binding("o", "expand_all", "Show all", id="transcript.expand"),
    ]
    DEFAULT_CSS = """
    TranscriptScreen #transcript-head {
        height: 2; background: $panel; color: $legible-text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    TranscriptScreen RichLog { height: 1fr; padding: 0 1; color: $legible-text; }
    TranscriptScreen #transcript-live {
        height: auto; max-height: 14; padding: 0 1; border-top: dashed $accent;
    }
    TranscriptScreen #transcript-live.-idle { display: none; }
    """

    def __init__(self, view: RunView, agent_id: str, export_dir: Path) -> None:
        super().__init__()
        self.view = view
        self.agent_id = agent_id
        self.export_dir = export_dir
        self._seen: dict[int, int] = {}
        self._live_key: tuple[object, ...] = ()
        self._head = ""
        self.live_text = ""  # what the live part shows now ("" when no reply streams)
        self._rebuilding = False
        self._palette_of: tuple[str, Palette] = ("", DEFAULT_PALETTE)
        self.exported: Path | None = None
        self.expanded: set[str] = set()  # tool call ids shown whole (a click on one)
        self.expand_all = False  # `o`: every file and result shown whole

    def _agent(self) -> AgentView | None:
        if self.agent_id == "ceo":
            return self.view.ceo
        return self.view.agents.get(self.agent_id)

    def compose(self) -> ComposeResult:
        yield Static("", id="transcript-head", markup=False)  # a task's [brackets] as typed
        # min_width: RichLog renders at 78 columns at least, wider than the log at 80
        # columns once its scrollbar shows (a horizontal scrollbar then took a row).
        yield RichLog(
            id="transcript-log", max_lines=MAX_LINES, wrap=True, markup=False, min_width=20
        )
        yield Static("", id="transcript-live", classes="-idle", markup=False)
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._theme_changed, init=False)  # colours are the theme's
        self._refresh_log()
        self.set_interval(REFRESH_S, self._refresh_log)
        self.query_one(RichLog).focus()

    def _refresh_log(self) -> None:
        agent = self._agent()
        head = self.query_one("#transcript-head", Static)
        if agent is None:
            head.update(f"{self.agent_id}: unknown agent")
            return
        tok = agent.tokens
        rate = fmt_rate(agent.tokens_per_s)
        text = (
            f"{agent.role} · {agent.agent_id} · attempt {agent.attempt} · "
            f"{short_model(agent.model)} · {agent.state} · out {fmt_output(tok)} · "
            f"{fmt_spend(tok)}{' · ' + rate if rate else ''}\n{agent.task}"
        )
        if text != self._head:
            self._head = text
            head.update(text, layout=False)
        log = self.query_one(RichLog)
        opened: Expanded = True if self.expand_all else self.expanded
        dark = self.app.current_theme.dark
        palette = self._palette()
        follow = False if self._rebuilding else None  # a rebuild keeps the reader's place
        for attempt in sorted(agent.messages):
            messages = agent.messages[attempt]
            seen = self._seen.get(attempt, 0)
            if seen == 0 and messages:
                log.write(Text(f"━━ attempt {attempt} ━━", style="bold"), scroll_end=follow)
            for message in messages[seen:]:
                for line in render_message(message, opened, dark, palette):
                    log.write(line, scroll_end=follow)
            self._seen[attempt] = len(messages)
        self._refresh_live(agent)

    def _refresh_live(self, agent: AgentView) -> None:
        """The reply streaming now: its newest rows, until its message is in the log."""
        live = self.query_one("#transcript-live", Static)
        width = live.content_region.width or max(20, self.size.width - 2)
        composing = agent.composing_line()
        key = (agent.reply_chars, agent.replying, composing, width, id(agent))
        if key == self._live_key:
            return
        self._live_key = key
        text = agent.reply
        if not text.strip() and not composing:
            self.live_text = ""
            live.set_class(True, "-idle")
            return
        label = "model (streaming):" if agent.replying else "model (reply cut off):"
        rows = wrap_tail(text.splitlines(), width, LIVE_ROWS - bool(composing)) if text else []
        self.live_text = "\n".join([*rows, composing] if composing else rows)
        live.update(Text.assemble((label, f"bold {self._palette().model}"), "\n", self.live_text))
        live.set_class(False, "-idle")

    def _palette(self) -> Palette:
        """The current theme's colours (the app's variables lag a theme change)."""
        theme = self.app.theme
        if self._palette_of[0] != theme:
            self._palette_of = (theme, palette_for(self.app.get_css_variables()))
        return self._palette_of[1]

    def _theme_changed(self) -> None:
        self._live_key = ()
        self._rebuild()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_expand(self, call_id: str) -> None:
        """A click on a capped item: show that call's file or result whole (or cap it)."""
        self.expanded ^= {call_id}
        self._rebuild()

    def action_expand_all(self) -> None:
        self.expand_all = not self.expand_all
        self.expanded.clear()
        self._rebuild()
        self.notify("Showing whole files and results" if self.expand_all else "Capped again")

    def _rebuild(self) -> None:
        """Write the log again with the new caps, keeping the reader's place."""
        log = self.query_one(RichLog)
        y = log.scroll_y
        log.clear()
        self._seen = {}
        self._rebuilding = True
        try:
            self._refresh_log()
        finally:
            self._rebuilding = False
        log.scroll_to(y=y, animate=False, immediate=True)

    def action_follow(self) -> None:
        self.query_one(RichLog).scroll_end(animate=False)

    def action_export(self) -> None:
        agent = self._agent()
        if agent is None:
            return
        parts = [f"# {agent.role} {agent.agent_id} (run {self.view.run_id})\n", agent.task, ""]
        for attempt in sorted(agent.messages):
            parts.append(f"## Attempt {attempt}\n")
            parts.append(conversation_markdown(agent.messages[attempt]))
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / f"transcript-{self.view.run_id or 'run'}-{agent.agent_id}.md"
        path.write_text("\n".join(parts), encoding="utf-8")
        self.exported = path
        self.notify(f"Exported to {path}", title="Transcript")


def render_message(
    message: dict[str, Any],
    expanded: Expanded = False,
    dark: bool = True,
    palette: Palette = DEFAULT_PALETTE,
) -> list[RenderableType]:
    """Rich renderables for one API message: texts, tool calls and tool results.

    A call's input is drawn for people (tui/tool_render.py); file content and results are
    capped until the call's id is in `expanded` (or `expanded` is True: everything)."""
    role = message.get("role", "?")
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    out: list[RenderableType] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text" and str(block.get("text", "")).strip():
            who = "model" if role == "assistant" else "input"
            style = f"bold {palette.model if role == 'assistant' else palette.input}"
            out.append(Text.assemble((f"{who}: ", style), str(block["text"]).strip()))
        elif kind == "thinking" and str(block.get("thinking", "")).strip():
            thought = block["thinking"].strip()
            out.append(Text(f"thinking: {thought}", style=f"italic {palette.muted}"))
        elif kind == "tool_use":
            call_id = str(block.get("id", ""))
            is_open = _is_open(expanded, call_id)
            args = block.get("input")
            args = args if isinstance(args, dict) else {"input": args}
            name = str(block.get("name"))
            out.append(Text.assemble(("→ ", f"bold {palette.tool}"), (name, "bold")))
            parts, hidden = tool_input(name, args, dark=dark, expanded=is_open)
            out.extend(Padding(part, (0, 0, 0, 2)) for part in parts)
            if hidden:
                out.append(Padding(_more(hidden, call_id), (0, 0, 0, 2)))
            elif _opened_alone(expanded, call_id) and tool_input(name, args, expanded=False)[1]:
                out.append(Padding(_less(call_id), (0, 0, 0, 2)))
        elif kind == "tool_result":
            call_id = str(block.get("tool_use_id", ""))
            body = block.get("content", "")
            if isinstance(body, list):
                body = "\n".join(b.get("text", "") for b in body if isinstance(b, dict))
            lines, hidden = result_lines(str(body), expanded=_is_open(expanded, call_id))
            style = palette.error if block.get("is_error") else palette.muted
            label = "✗ error" if block.get("is_error") else "← result"
            if len(lines) <= 1:
                out.append(Text.assemble((f"{label}: ", f"bold {style}"), ("".join(lines), style)))
                continue
            total = len(lines) + hidden
            out.append(Text(f"{label} ({total} lines):", style=f"bold {style}"))
            out.append(Padding(Text("\n".join(lines), style=style), (0, 0, 0, 2)))
            if hidden:
                out.append(Padding(_more(hidden, call_id), (0, 0, 0, 2)))
            elif _opened_alone(expanded, call_id) and len(lines) > RESULT_LINES:
                out.append(Padding(_less(call_id), (0, 0, 0, 2)))
    return out


def _opened_alone(expanded: Expanded, call_id: str) -> bool:
    """Opened by a click on it (not by `o`): a click on its last line caps it again."""
    return not isinstance(expanded, bool) and call_id in expanded


def _less(call_id: str) -> Text:
    style = Style(italic=True, underline=True, meta={"@click": f"screen.expand({call_id!r})"})
    return Text("▴ show fewer lines (click)", style=style)


def _is_open(expanded: Expanded, call_id: str) -> bool:
    return expanded is True or (not isinstance(expanded, bool) and call_id in expanded)


def _more(hidden: int, call_id: str) -> Text:
    """The clickable `… N more lines` line of a capped file or result."""
    action = f"screen.expand({call_id!r})" if call_id else None
    return more_line(hidden, "click to show them, o shows all", action)
