"""The steer modal: one message for an agent, delivered at its next turn (or at once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.widgets.recent_output import RecentOutput, fit_modal

RECENT_LINES = 12


class SteerScreen(ModalScreen[str | None]):
    """Opaque on purpose: a see-through modal makes Textual re-render and dim the whole
    board beneath it on every frame (about 60 ms with 100 streaming agents), which made
    the modal slow to open and typing in it lag. The agent's recent output is shown
    instead, which is what the operator needs in order to write the message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="steer.cancel")
    ]
    DEFAULT_CSS = """
    SteerScreen { align: center middle; background: $background; }
    SteerScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    SteerScreen Label { width: 100%; }
    SteerScreen .hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(
        self,
        agent_id: str = "",
        task: str = "",
        *,
        interrupt: bool = False,
        recent: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.box = Vertical()
        self.title_label = Label("")
        self.recent_box = RecentOutput(id="steer-recent")
        self.input = Input(placeholder="Message for the agent…", id="steer-input")
        self.hint = Label("", classes="hint")
        self.prepare(agent_id, task, interrupt=interrupt, recent=recent)

    def prepare(
        self, agent_id: str, task: str, *, interrupt: bool = False, recent: Sequence[str] = ()
    ) -> SteerScreen:
        """Aim this (reused) modal at an agent. One instance serves every steer: a new
        screen per press left its widgets as cyclic garbage for the collector."""
        self.agent_id = agent_id
        self.agent_task = task
        self.interrupt = interrupt
        self.recent = list(recent)[-RECENT_LINES:]
        title = "Interrupt and steer" if interrupt else "Steer"
        when = (
            "The current reply is cancelled (what streamed is kept) and this is delivered now."
            if interrupt
            else "Delivered at the agent's next turn boundary."
        )
        self.title_label.update(f"[b]{title} {agent_id}[/b]  [dim]{task[:60]}[/dim]")
        self.recent_box.show(self.recent)
        self.hint.update(f"{when}  enter send · escape cancel")
        self.input.value = ""
        return self

    def compose(self) -> ComposeResult:
        with self.box:
            yield self.title_label
            yield self.recent_box
            yield self.input
            yield self.hint

    def on_screen_resume(self) -> None:
        self.input.focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        fit_modal(self, self.box, self.recent_box)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
