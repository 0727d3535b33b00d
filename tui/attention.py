"""Calling the operator back: a toast, the terminal bell and a desktop notification.

When a command waits for approval, the CEO waits for the operator, an agent stalls or
the run ends, the app shows a toast; for the events the config's `[notify] events` lists
it also rings the terminal bell and sends a desktop notification as an escape sequence
the terminal turns into one: OSC 9 (iTerm2, WezTerm, kitty, foot, ghostty) or OSC 777
`notify` (rxvt-unicode, Konsole, VTE terminals such as GNOME Terminal). The sequences go
through Textual's driver, so they reach the real terminal between frames. No Textual
import here: the app hands in where to write and how to toast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.config import NotifySettings
from core.events import (
    CEO_ID,
    AgentStalled,
    ApprovalRequested,
    CeoWaiting,
    Event,
    RunFinished,
)
from tui.keymap import default_key
from tui.view_model import one_line

BELL = "\a"
MIN_GAP_S = 2.0  # at most one bell and desktop notification this often (a burst: one)
TITLE = "delegate"

# By TERM_PROGRAM, then by a word in TERM: the terminals known to show each sequence.
OSC9_PROGRAMS = frozenset({"iterm.app", "wezterm", "ghostty"})
OSC9_TERMS = ("kitty", "foot", "ghostty", "wezterm")
OSC777_TERMS = ("rxvt",)
OSC777_VARS = ("KONSOLE_VERSION", "VTE_VERSION")


@dataclass(frozen=True)
class Alert:
    kind: str  # one of core.config.NOTIFY_EVENTS
    title: str
    message: str
    severity: str = "information"  # a Textual toast severity
    request_id: str | None = None  # an approval's: its toast goes once it is answered
    keys: tuple[tuple[str, str], ...] = ()  # (binding id, what it does): what answers it

    def text(self, label: Callable[[str], str] = default_key) -> str:
        """The message, with the keys that answer it as `label` names them."""
        if not self.keys:
            return self.message
        return f"{self.message} ({' · '.join(f'{label(i)} {what}' for i, what in self.keys)})"


def desktop_protocol(env: Mapping[str, str] | None = None) -> str | None:
    """ "osc9", "osc777" or None (no sequence the terminal is known to show)."""
    env = os.environ if env is None else env
    program = env.get("TERM_PROGRAM", "").lower()
    term = env.get("TERM", "").lower()
    if program in OSC9_PROGRAMS or any(word in term for word in OSC9_TERMS):
        return "osc9"
    if any(word in term for word in OSC777_TERMS) or any(env.get(v) for v in OSC777_VARS):
        return "osc777"
    return None


def _clean(text: str, cap: int = 200) -> str:
    """One line with no control characters (they would end or break the sequence)."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return one_line(text, cap)


def sequence(protocol: str, title: str, message: str) -> str:
    """The escape sequence of a desktop notification."""
    if protocol == "osc9":
        return f"\x1b]9;{_clean(f'{title}: {message}')}\x07"
    if protocol == "osc777":
        return f"\x1b]777;notify;{_clean(title).replace(';', ',')};{_clean(message)}\x07"
    return ""


def alert_for(event: Event) -> Alert | None:
    """The alert an event calls for, if any."""
    if isinstance(event, ApprovalRequested):
        who = "The CEO" if event.agent_id == CEO_ID else event.agent_id
        return Alert(
            "approval",
            "Approval needed",
            f"{who} asks to run: {one_line(event.command, 120)}",
            "warning",
            event.request_id,
            (("approval.once", "approve"), ("approval.deny", "deny")),
        )
    if isinstance(event, CeoWaiting) and event.answered:
        return Alert("waiting", "The CEO waits for you", "It answered; reply or quit.")
    if isinstance(event, AgentStalled) and event.stalled:
        return Alert(
            "stalled",
            "Agent stalled",
            f"{event.agent_id}: no output for {event.idle_s:.0f} s",
            "warning",
        )
    if isinstance(event, RunFinished):
        return Alert("finished", "Run ended", f"run {event.run_id}: {event.status}")
    return None


class Attention:
    """Turns events into alerts: `toast(alert)` always, `write(text)` (the terminal) for
    the events the settings list, at most once per MIN_GAP_S."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        write: Callable[[str], None],
        toast: Callable[[Alert], None],
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        label: Callable[[str], str] = default_key,
    ) -> None:
        self.settings = settings
        self.write = write
        self.toast = toast
        self.clock = clock
        self.label = label  # a binding id's key as the operator presses it
        protocol = settings.desktop
        self.protocol: str | None = (
            desktop_protocol(env) if protocol == "auto" else None if protocol == "off" else protocol
        )
        self._last: float | None = None
        self.sent: list[Alert] = []  # alerts that reached the terminal (for tests and help)

    def observe(self, event: Event) -> None:
        alert = alert_for(event)
        if alert is not None:
            self.raise_alert(alert)

    def raise_alert(self, alert: Alert) -> None:
        self.toast(alert)
        if alert.kind not in self.settings.events:
            return
        now = self.clock()
        if self._last is not None and now - self._last < MIN_GAP_S:
            return  # a burst (ten approvals at once) rings once
        self._last = now
        out = BELL if self.settings.bell else ""
        if self.protocol is not None:
            out += sequence(self.protocol, f"{TITLE}: {alert.title}", alert.text(self.label))
        if out:
            self.write(out)
            self.sent.append(alert)
