"""The footer: the keys that fit the width, most useful first; never a cut label.

Textual's Footer lays every key out in one row and cuts the row at the screen's edge
("A Alway▏"). This one measures each key and leaves out the least useful ones that do
not fit (the help screen and the command palette list them all), keeping the shown
keys in their usual order. It also rebuilds only when the keys it shows change: Textual's
Footer recomposes on every focus change, and moving between agent panes keeps the same
keys, so skipping that rebuild keeps pane navigation cheap.

It names no key the focused widget would type (the message box takes `+` and `?` as
text): Textual leaves out a binding whose key the box consumes, but it misses keys it
names by a short word (`plus`, `minus`, `slash`...), and a binding shown as `?` whose
other key (`f1`) is not consumed still reads `?`; here `f1` shows instead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.keys import REPLACED_KEYS, key_to_character
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Binding ids, most useful first: when the row is too narrow the tail is left out.
# The palette key ranks as PALETTE; ids not listed, see `rank`.
PALETTE = "palette"
KEEP_ORDER: tuple[str, ...] = (
    "replay.back",
    "app.quit",
    "app.help",
    "view.switch",
    "approval.once",
    "approval.deny",
    "agent.steer",
    "agent.transcript",
    "agent.retry",
    PALETTE,
    "agent.kill",
    "agent.interrupt",
    "approval.always",
    "replay.pause",
    "replay.end",
    "replay.faster",
    "replay.slower",
    "agent.extend",
    "app.history",
)
KEY_CHROME = 3  # " k " around the key, one space after the description
PALETTE_CHROME = 3  # compact ("k desc"): its left border and right padding


def key_width(key_display: str, description: str) -> int:
    """Cells a (non-compact) FooterKey takes."""
    return cell_len(key_display) + cell_len(description) + KEY_CHROME


def rank(binding_id: str | None, position: int) -> tuple[int, int]:
    """Listed ids by their place; any other (another screen's own keys) just before the
    last listed one (history), in the order the screen gives them."""
    if binding_id in KEEP_ORDER:
        return (KEEP_ORDER.index(binding_id), position)
    return (len(KEEP_ORDER) - 1, position)


def typed_character(key: str) -> str | None:
    """The character a key types, also for the short names Textual's own lookup misses."""
    return key_to_character(key) or key_to_character(REPLACED_KEYS.get(key, ""))


def typed_by(widget: Widget | None, key: str) -> bool:
    """Would `widget` (the focused one) take this key (or a one-character label) as text?"""
    character = key if len(key) == 1 else typed_character(key)
    return widget is not None and widget.check_consume_key(key, character)


class SteadyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] | None = None
        self._width = 0
        self.left_out: list[str] = []  # descriptions of the keys that did not fit

    def on_resize(self) -> None:
        if self.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._width = width
        active = self.screen.active_bindings
        focused = self.screen.focused
        by_action: defaultdict[str, list[tuple[Binding, bool, str]]] = defaultdict(list)
        for _, binding, enabled, tooltip in active.values():
            if binding.show and not typed_by(focused, binding.key):
                by_action[binding.action].append((binding, enabled, tooltip))
        keys = [entries[0] for entries in by_action.values()]
        palette: tuple[Binding, bool, str] | None = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = (found[1], found[2], found[3])

        # Enabled keys before dimmed ones, then by usefulness; take what fits.
        wanted: list[tuple[tuple[int, int, int], int]] = []
        for i, (binding, enabled, _) in enumerate(keys):
            wanted.append(((not enabled, *rank(binding.id, i)), i))
        if palette is not None:
            wanted.append(((0, *rank(PALETTE, 0)), -1))
        room = width
        chosen: set[int] = set()
        self.left_out = []
        for _, i in sorted(wanted):
            binding = palette[0] if i < 0 and palette else keys[i][0]
            key = self.key_display(binding)
            if i < 0:
                need = cell_len(key) + cell_len(binding.description) + PALETTE_CHROME
            else:
                need = key_width(key, binding.description)
            if need <= room:
                room -= need
                chosen.add(i)
            else:
                self.left_out.append(binding.description)
        for i, (binding, enabled, tooltip) in enumerate(keys):
            if i in chosen:
                yield FooterKey(
                    binding.key,
                    self.key_display(binding),
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                ).data_bind(compact=Footer.compact)
        if palette is not None and -1 in chosen:
            binding, enabled, _ = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    def key_display(self, binding: Binding) -> str:
        """The key as shown; not a character the focused widget would type instead."""
        shown = self.app.get_key_display(binding)
        if binding.key_display and len(shown) == 1 and typed_by(self.screen.focused, shown):
            return self.app.get_key_display(replace(binding, key_display=None))
        return shown

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)
            return
        shown = (
            type(screen.focused),  # what the focused widget types changes the keys shown
            *(
                (binding.key, binding.action, binding.description, enabled, tooltip)
                for (_, binding, enabled, tooltip) in screen.active_bindings.values()
                if binding.show
            ),
        )
        if shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)
