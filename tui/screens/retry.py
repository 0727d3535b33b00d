"""The retry modal: an optional note for the new attempt and a model to run it on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from core.catalog import Price
from tui.widgets.recent_output import RecentOutput, fit_modal


@dataclass(frozen=True)
class RetryRequest:
    note: str | None
    model: str | None


def price_text(price: Price | None) -> str:
    """`$0.10 in · $0.50 out per M tokens`, or that the price is not known."""
    if price is None:
        return "price unknown"
    return f"${price.input:.2f} in · ${price.output:.2f} out per M tokens"


class RetryScreen(ModalScreen[RetryRequest | None]):
    """Opaque, like the steer modal (see there why), and shows how the attempt ended.

    The models are a list inside the modal (not a dropdown over its buttons), each with
    its price, the current one marked.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="retry.cancel")
    ]
    DEFAULT_CSS = """
    RetryScreen { align: center middle; background: $background; }
    RetryScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    RetryScreen Label { width: 100%; }
    RetryScreen #retry-model-label { margin-top: 1; color: $text-muted; }
    RetryScreen OptionList { height: auto; max-height: 8; }
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
        prices: Mapping[str, Price] | None = None,
        recent: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.recent = list(recent)
        self.agent_id = agent_id
        self.attempt = attempt
        self.model = model
        self.models = models if model in models else [model, *models]
        self.prices = dict(prices or {})
        self.box = Vertical()
        self.recent_box = RecentOutput(self.recent, id="retry-recent")

    def compose(self) -> ComposeResult:
        width = max(map(len, self.models))
        options = [
            Option(
                Content.assemble(
                    (m.ljust(width), "bold" if m == self.model else ""),
                    "  ",
                    # No colours of their own: the highlighted row's cursor colours apply.
                    price_text(self.prices.get(m)),
                    (" (current)" if m == self.model else "", "bold"),
                ),
                id=m,
            )
            for m in self.models
        ]
        with self.box:
            yield Label(f"[b]Retry {self.agent_id}[/b] as attempt {self.attempt + 1}")
            if self.recent:
                yield self.recent_box
            yield Input(placeholder="Optional note for the new attempt…", id="retry-note")
            yield Label("Model (tab to the list, ↑↓ to choose)", id="retry-model-label")
            models = OptionList(*options, id="retry-model")
            models.highlighted = self.models.index(self.model)
            yield models
            with Horizontal():
                yield Button("Retry (enter)", variant="primary", id="retry-go")
                yield Button("Cancel (esc)", id="retry-cancel")

    def on_mount(self) -> None:
        self.query_one("#retry-note", Input).focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        if self.recent:
            fit_modal(self, self.box, self.recent_box)

    @property
    def chosen_model(self) -> str:
        index = self.query_one("#retry-model", OptionList).highlighted
        return self.models[index] if index is not None else self.model

    def _submit(self) -> None:
        note = self.query_one("#retry-note", Input).value.strip() or None
        chosen = self.chosen_model
        self.dismiss(RetryRequest(note, chosen if chosen != self.model else None))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry-go":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
