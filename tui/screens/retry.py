"""The retry modal: an optional note for the new attempt and a model to run it on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from tui.widgets.recent_output import RecentOutput


@dataclass(frozen=True)
class RetryRequest:
    note: str | None
    model: str | None


class RetryScreen(ModalScreen[RetryRequest | None]):
    """Opaque, like the steer modal (see there why), and shows how the attempt ended."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="retry.cancel")
    ]
    DEFAULT_CSS = """
    RetryScreen { align: center middle; background: $background; }
    RetryScreen > Vertical {
        width: 90; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    RetryScreen Select { margin-top: 1; }
    RetryScreen Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    RetryScreen Button { margin-left: 2; }
    """

    def __init__(
        self,
        agent_id: str,
        attempt: int,
        model: str,
        models: list[str],
        *,
        recent: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.recent = list(recent)
        self.agent_id = agent_id
        self.attempt = attempt
        self.model = model
        self.models = models if model in models else [model, *models]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Retry {self.agent_id}[/b] as attempt {self.attempt + 1}")
            if self.recent:
                yield RecentOutput(self.recent, id="retry-recent")
            yield Input(placeholder="Optional note for the new attempt…", id="retry-note")
            yield Select(
                [(m, m) for m in self.models], value=self.model, allow_blank=False, id="retry-model"
            )
            with Horizontal():
                yield Button("Retry (enter)", variant="primary", id="retry-go")
                yield Button("Cancel (esc)", id="retry-cancel")

    def on_mount(self) -> None:
        self.query_one("#retry-note", Input).focus()

    def _submit(self) -> None:
        note = self.query_one("#retry-note", Input).value.strip() or None
        model = self.query_one("#retry-model", Select).value
        chosen = str(model) if isinstance(model, str) else None
        self.dismiss(RetryRequest(note, chosen if chosen != self.model else None))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry-go":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
