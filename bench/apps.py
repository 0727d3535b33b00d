"""Apps for the UI benchmark: the real app and the simplest one, both timestamping frames.

Headless Textual computes each frame but skips turning it into terminal bytes; `_display`
here does that work too (and throws the bytes away), so both apps pay for a real frame.
Touches private Textual APIs (`_display`, `_batch_count`): Textual is pinned exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from textual import events
from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

import tui.app
from core.bus import EventBus
from core.events import AgentSpawned, Event, TextDelta
from tui.app import DelegateApp

KEY_CHARS = {"down": None, "up": None, "s": "s", "escape": "\x1b"}


class FrameClock:
    """Mixin: count frames and resolve a waiter on the first frame where its predicate holds."""

    frames = 0
    frame_bytes = 0
    _waiter: tuple[Callable[[], bool], asyncio.Future[float]] | None = None

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)  # type: ignore[misc]
        app: Any = self
        if renderable is None or app._batch_count:
            return
        if isinstance(renderable, CompositorUpdate):
            self.frame_bytes += len(renderable.render_segments(app.console))
        self.frames += 1
        waiter = self._waiter
        if waiter is not None and not waiter[1].done() and waiter[0]():
            waiter[1].set_result(time.perf_counter())
            self._waiter = None

    async def key_to_screen(self, key: str, shown: Callable[[], bool], timeout: float) -> float:  # noqa: ASYNC109
        """Send `key` as the terminal driver would; seconds until a frame shows `shown()`."""
        app: Any = self
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiter = (shown, fut)
        event = events.Key(key, KEY_CHARS.get(key, key))
        event.set_sender(app)
        t0 = time.perf_counter()
        app._driver.send_message(event)
        return await asyncio.wait_for(fut, timeout) - t0


class BenchDelegateApp(FrameClock, DelegateApp):
    """The real app, unchanged but for the frame clock."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))


class PlainModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]
    DEFAULT_CSS = """
    PlainModal { align: center middle; }
    PlainModal > Vertical { width: 80; height: auto; border: thick $accent; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Steer")
            yield Input(placeholder="Message for the agent…")

    def on_mount(self) -> None:
        self.query_one(Input).focus()


class PlainPane(Static, can_focus=True):
    DEFAULT_CSS = (
        "PlainPane { height: 13; border: round $panel; } PlainPane:focus { border: round $accent; }"
    )

    def __init__(self, agent_id: str) -> None:
        super().__init__(id=f"p-{agent_id}")
        self.agent_id = agent_id


class PlainApp(FrameClock, App[None]):
    """The simplest app showing the stream: one fixed-size Static per agent, updated in place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(2)", "Down", priority=True),
        Binding("up", "move(-2)", "Up", priority=True),
        Binding("s", "modal", "Steer", priority=True),
    ]
    CSS = "#grid { layout: grid; grid-size: 2; grid-rows: 13; }"
    TAIL = 11 * 44

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self.bus = bus
        self.panes: dict[str, PlainPane] = {}
        self.tails: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="grid")

    def on_mount(self) -> None:
        self.bus.subscribe(self.on_core_event)

    def on_core_event(self, event: Event) -> None:
        agent_id = event.agent_id or ""
        if isinstance(event, AgentSpawned) and agent_id != "ceo" and agent_id not in self.panes:
            pane = self.panes[agent_id] = PlainPane(agent_id)
            pane.border_title = agent_id
            self.query_one("#grid").mount(pane)
            if len(self.panes) == 1:
                pane.focus()
        elif isinstance(event, TextDelta) and agent_id in self.panes:
            tail = (self.tails.get(agent_id, "") + event.text)[-self.TAIL :]
            self.tails[agent_id] = tail
            self.panes[agent_id].update(tail, layout=False)

    def action_move(self, step: int) -> None:
        order = list(self.panes.values())
        focused = self.focused
        if focused in order:
            j = order.index(focused) + step  # type: ignore[arg-type]
            if 0 <= j < len(order):
                order[j].focus()
                order[j].scroll_visible()

    def action_modal(self) -> None:
        if not isinstance(self.screen, PlainModal):
            self.push_screen(PlainModal())
