"""The keys, in one place (also in the README)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Keys

Keys act on the **focused agent pane**. While the message box (at the bottom) has
focus, letters type into it: press **escape** to go back to the board (or **tab**).

| key | what it does |
|---|---|
| tab/shift+tab | next / previous pane (and the message box) |
| arrows, j/k | move between panes (past the edge, the board shows the next row) |
| page up/down | a screenful of panes up or down (the wheel scrolls too) |
| enter | the focused agent's transcript (e there: export; o: whole files and results) |
| s | steer the focused agent (delivered at its next turn) |
| S | interrupt and steer (cancels the current reply, delivers at once) |
| x | kill the focused agent (asks once) |
| r | retry the focused agent: optional note, model picker |
| + | add 5 minutes to the focused agent's timeout |
| a/A/d | approve once / always allow the prefix / deny the oldest pending command |
| c | clear finished panes from the board |
| i | focus the message box (type to the CEO; enter sends; queued while it is busy) |
| ctrl+t | below 120 columns: the chat or the board (i and escape switch too) |
| h | history of runs; enter replays one |
| $ | run dashboard: tokens, cost, tok/s, spend per agent and model (m: scorecard) |
| ? | this help |
| q | quit (asks if agents are running; stops them cleanly) |
| ctrl+p | command palette: every action above, and per-agent commands |

## Replay

Read-only: agent commands are disabled. **space** pause/resume, **]** faster,
**[** slower, **G** jump to the end, **escape** back (or **q** quit).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close")
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 90%; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        text = HELP
        if self.keymap:  # the table above shows the defaults; say what the config changed
            rows = "\n".join(f"| {i} | {k} |" for i, k in sorted(self.keymap.items()))
            text += (
                f"\n## Remapped in your config ([keys])\n\n| binding | keys |\n|---|---|\n{rows}\n"
            )
        with VerticalScroll():
            yield Markdown(text)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
