"""Read the colours a screen really drew (the compositor's strips) and check their contrast.

The strips are what Textual sends to the terminal after its filters (ANSI to truecolor,
dim), with opacity and `$text-muted`'s alpha already blended. Native ANSI colours (the
ansi-* themes) are resolved with the app's terminal theme, as Textual's SVG export does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.terminal_theme import TerminalTheme
from textual.app import App
from textual.color import Color
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.strip import Strip

from core.events import AgentFinished, AgentSpawned, AgentStalled, AgentStateChanged, Event
from tests.tui_support import QuietSession
from tui.app import DelegateApp
from tui.contrast import contrast
from tui.sample_run import RUN_ID, SAMPLE_NOW, sample_events

# Tall enough for every pane of the sample run plus the two added below (4 rows of 2).
SIZE = (160, 64)
STATES = {
    "research-1": "running",
    "coding-1": "waiting_approval",
    "writer-1": "done",
    "data-1": "failed",
    "coding-2": "queued",
    "writer-2": "killed",
    "data-2": "timed_out",
}


def _extra_events() -> list[Event]:
    """The sample run plus a stalled agent and two more ends (killed, timed out)."""
    events = sample_events()
    ts = events[-1].ts
    spawned = [e for e in events if isinstance(e, AgentSpawned)]
    out: list[Event] = []
    for base, new_id, state in (
        (spawned[3], "writer-2", "killed"),
        (spawned[4], "data-2", "timed_out"),
    ):
        out.append(dataclasses.replace(base, agent_id=new_id, ts=ts))
        out.append(AgentStateChanged(run_id=RUN_ID, ts=ts, agent_id=new_id, state="running"))
        out.append(AgentStateChanged(run_id=RUN_ID, ts=ts, agent_id=new_id, state=state))
        out.append(
            AgentFinished(
                run_id=RUN_ID, ts=ts, agent_id=new_id, state=state, result="", elapsed_s=30.0
            )
        )
    out.append(AgentStalled(run_id=RUN_ID, ts=ts, agent_id="research-1", stalled=True, idle_s=95.0))
    return events + out


def all_states_app(tmp_path: Path) -> DelegateApp:
    """The sample run with its panes in every state, on a fixed clock."""
    return DelegateApp(
        session=QuietSession(),  # type: ignore[arg-type]
        task="sample",
        prior_events=_extra_events(),
        clock=lambda: SAMPLE_NOW,
        export_dir=tmp_path,
        autostart=False,
    )


BOX = set("─│╭╮╰╯━┃┏┓┗┛╍╏╌╎═║╔╗╚╝┄┆┈┊▔▁▎▊▏▕ ")


@dataclass(frozen=True)
class Cell:
    """A run of text as drawn: where, what, and its effective colours."""

    x: int
    y: int
    text: str
    fg: tuple[int, int, int]
    bg: tuple[int, int, int]

    @property
    def ratio(self) -> float:
        return contrast(self.fg, self.bg)


def _rgb(color: RichColor | None, theme: TerminalTheme, foreground: bool) -> tuple[int, int, int]:
    if color is None or color.is_default:
        triplet = theme.foreground_color if foreground else theme.background_color
        return (triplet.red, triplet.green, triplet.blue)
    t = color.get_truecolor(theme, foreground=foreground)
    return (t.red, t.green, t.blue)


def screen_strips(app: App[object]) -> list[Strip]:
    """The current screen as drawn, one strip a row."""
    return app.screen._compositor.render_strips()


def drawn(app: App[object], region: Region, strips: list[Strip] | None = None) -> list[Cell]:
    """Every segment drawn inside `region` of the current screen that has visible text."""
    strips = screen_strips(app) if strips is None else strips
    theme = app.ansi_theme
    cells: list[Cell] = []
    for y in range(region.y, min(region.bottom, len(strips))):
        x = 0
        for segment in strips[y]:
            text, style, _ = segment if isinstance(segment, Segment) else (segment, None, None)
            width = Segment(text).cell_length
            if region.x <= x < region.right and text.strip() and style is not None:
                fg = _rgb(style.color, theme, True)
                bg = _rgb(style.bgcolor, theme, False)
                if style.dim:  # a terminal draws dim text half-way to the background
                    fg = Color(*bg).blend(Color(*fg), 0.5).rgb
                if style.reverse:
                    fg, bg = bg, fg
                cells.append(Cell(x, y, text, fg, bg))
            x += width
    return cells


# Box drawing and block elements: borders (thick ones are half blocks), table rules, bars.
GLYPHS = BOX | {chr(c) for c in range(0x2500, 0x25A0)}


def is_text(cell: Cell) -> bool:
    """Not a run of border lines or bars (a border's colour is not text; its title is)."""
    return not set(cell.text) <= GLYPHS


def behind_modal(app: App[object], cell: Cell) -> bool:
    """Drawn by the screen under a see-through modal (dimmed on purpose, and inactive:
    WCAG 1.4.3 exempts what a dialog covers); the modal's own texts are not."""
    screen = app.screen
    if not isinstance(screen, ModalScreen):
        return False
    widget, _ = screen.get_widget_at(cell.x, cell.y)
    return widget is screen
