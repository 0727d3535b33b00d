"""Key bindings the config can remap (`[keys]`), by binding id (Textual's keymap).

No Textual import here: `delegate run` checks the config's `[keys]` table too, without
loading the TUI. tests/test_keymap.py holds this list equal to the `Binding(id=...)`s in
tui/.
"""

from __future__ import annotations

import difflib

from core.config import ConfigError

# id: (default keys, what it does). The README's keys section lists the same ids.
BINDING_IDS: dict[str, tuple[str, str]] = {
    "app.quit": ("q", "quit (asks if agents are running)"),
    "app.help": ("question_mark,f1", "help"),
    "app.history": ("h", "history of runs"),
    "app.dashboard": ("dollar_sign", "run dashboard: tokens, cost, tokens/s, spend over time"),
    "agent.steer": ("s", "steer the focused agent"),
    "agent.interrupt": ("S", "interrupt and steer"),
    "agent.kill": ("x", "kill the focused agent"),
    "agent.retry": ("r", "retry the focused agent"),
    "agent.extend": ("plus", "add 5 minutes to its timeout"),
    "agent.transcript": ("enter", "the focused agent's transcript"),
    "approval.once": ("a", "approve the oldest command once"),
    "approval.always": ("A", "always allow its prefix"),
    "approval.deny": ("d", "deny the oldest command"),
    "board.clear": ("c", "clear finished panes"),
    "board.focus": ("escape", "from the message box back to the board"),
    "board.page_up": ("pageup", "a screenful of panes up"),
    "board.page_down": ("pagedown", "a screenful of panes down"),
    "chat.focus": ("i", "focus the message box"),
    "view.switch": ("ctrl+t", "below 120 columns: show the chat or the board"),
    "pane.up": ("up,k", "move to the pane above"),
    "pane.down": ("down,j", "move to the pane below"),
    "pane.left": ("left", "move to the pane on the left"),
    "pane.right": ("right", "move to the pane on the right"),
    "replay.pause": ("space", "pause or resume a replay"),
    "replay.faster": ("right_square_bracket", "replay faster"),
    "replay.slower": ("left_square_bracket", "replay slower"),
    "replay.end": ("G", "jump to the end of a replay"),
    "replay.back": ("escape", "from a replay opened over the live run back to it"),
    "transcript.back": ("escape,q", "close the transcript"),
    "transcript.export": ("e", "export the transcript to Markdown"),
    "transcript.follow": ("end,G", "follow the transcript's end"),
    "transcript.expand": ("o", "show whole files and tool results (a click opens one)"),
    "history.back": ("escape,q", "close the history"),
    "history.open": ("enter", "replay the chosen run"),
    "dashboard.back": ("escape,q,dollar_sign", "close the dashboard"),
    "dashboard.scorecard": ("m", "model scorecard of recorded runs (from the dashboard)"),
    "stats.back": ("escape,q", "close the model scorecard"),
    "help.close": ("escape,q,question_mark", "close the help"),
    "confirm.yes": ("y", "answer yes to a question"),
    "confirm.no": ("n,escape", "answer no"),
    "steer.cancel": ("escape", "close the steer box"),
    "retry.cancel": ("escape", "close the retry box"),
}


def resolve_id(name: str) -> str | None:
    """A binding id, or a unique last part of one (`kill` is `agent.kill`)."""
    if name in BINDING_IDS:
        return name
    matches = [i for i in BINDING_IDS if i.rsplit(".", 1)[1] == name]
    return matches[0] if len(matches) == 1 else None


def _hint(name: str) -> str:
    same_tail = [i for i in BINDING_IDS if i.rsplit(".", 1)[1] == name]
    if same_tail:
        return f" (it could be {' or '.join(same_tail)}: name one)"
    by_tail = {i.rsplit(".", 1)[1]: i for i in BINDING_IDS}
    close = difflib.get_close_matches(name, [*BINDING_IDS, *by_tail], n=1, cutoff=0.6)
    if close:
        return f" (did you mean {by_tail.get(close[0], close[0])}?)"
    return " (the ids are listed in the README's keys section)"


def keymap_from(pairs: tuple[tuple[str, str], ...], source: str = "") -> dict[str, str]:
    """The `[keys]` table as Textual's keymap (id -> keys); unknown ids are ConfigErrors."""
    where = f"{source}: " if source else ""
    keymap: dict[str, str] = {}
    for name, keys in pairs:
        binding_id = resolve_id(name)
        if binding_id is None:
            raise ConfigError(f"{where}keys.{name}", "unknown binding id" + _hint(name))
        keymap[binding_id] = keys
    return keymap
