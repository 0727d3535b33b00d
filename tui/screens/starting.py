"""What shows while the session is built (the model SDK takes about 2 s to import)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Label

from tui.view_model import one_line

STARTING_TEXT = "Starting delegate"


class StartingScreen(Screen[None]):
    DEFAULT_CSS = """
    StartingScreen { align: center middle; }
    StartingScreen > Vertical {
        width: auto; max-width: 100%; height: auto; padding: 1 4; border: round $panel;
    }
    StartingScreen Label { max-width: 100%; }
    StartingScreen .dim { color: $text-muted; }
    """

    def __init__(self, task: str | None) -> None:
        super().__init__()
        self.task_text = task

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{STARTING_TEXT}[/b] … loading the model SDK")
            if self.task_text:
                yield Label(one_line(self.task_text, 100), classes="dim", markup=False)
