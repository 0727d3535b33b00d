"""Key bindings the config can remap (`[keys]`), by binding id (Textual's keymap).

No Textual import here: `delegate run` checks the config's `[keys]` table too, without
loading the TUI. tests/test_keymap.py holds this list equal to the `Binding(id=...)`s in
tui/.
"""

from __future__ import annotations

import difflib
import re

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


def first_key(binding_id: str, keymap: dict[str, str] | None = None) -> str:
    """The key that does `binding_id`: the config's first, else the default's."""
    keys = (keymap or {}).get(binding_id) or BINDING_IDS[binding_id][0]
    return keys.split(",")[0].strip()


def default_key(binding_id: str, keymap: dict[str, str] | None = None) -> str:
    """`first_key` as it is pressed, `a`, `A`, `$`, `+`, `^t`, where Textual's display of
    keys is not at hand (the app's `key_label` uses it)."""
    key = first_key(binding_id, keymap)
    *modifiers, name = key.split("+") if key != "plus" else ["plus"]
    name = KEY_SIGNS.get(name, name)
    return "".join(f"{m}+" if m != "ctrl" else "^" for m in modifiers) + name


# Key names as the footer shows them (Textual's names for the characters).
KEY_SIGNS = {
    "dollar_sign": "$",
    "plus": "+",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "space": "space",
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


# Bindings live together on one screen: the run screen's (with the app's), or one other
# screen's own. A remapped key may not take a key another binding of the same screen has.
RUN_SCREEN_GROUPS = frozenset(
    {"app", "agent", "approval", "board", "chat", "view", "pane", "replay"}
)
_KEY_RE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")  # a, G, f1, ctrl+t, dollar_sign


def _screen(binding_id: str) -> str:
    group = binding_id.split(".", 1)[0]
    return "run" if group in RUN_SCREEN_GROUPS else group


def _keys(keys: str) -> set[str]:
    return {k.strip() for k in keys.split(",") if k.strip()}


def keymap_from(pairs: tuple[tuple[str, str], ...], source: str = "") -> dict[str, str]:
    """The `[keys]` table as Textual's keymap (id -> keys). Unknown ids, malformed key
    names and a key another binding of the same screen already has are ConfigErrors."""
    where = f"{source}: " if source else ""
    keymap: dict[str, str] = {}
    for name, keys in pairs:
        binding_id = resolve_id(name)
        if binding_id is None:
            raise ConfigError(f"{where}keys.{name}", "unknown binding id" + _hint(name))
        if not isinstance(keys, str) or not _keys(keys):
            raise ConfigError(f"{where}keys.{name}", 'give the key(s) as a string, e.g. "x"')
        for key in _keys(keys):
            if not _KEY_RE.match(key):
                raise ConfigError(
                    f"{where}keys.{name}",
                    f"{key!r} is not a key name (keys look like x, G, f5, ctrl+k, dollar_sign)",
                )
        keymap[binding_id] = keys
    effective = {i: _keys(keymap.get(i, default)) for i, (default, _) in BINDING_IDS.items()}
    for binding_id in keymap:
        for other, other_keys in effective.items():
            if other == binding_id or _screen(other) != _screen(binding_id):
                continue
            taken = effective[binding_id] & other_keys
            if taken:
                key = sorted(taken)[0]
                raise ConfigError(
                    f"{where}keys.{binding_id}",
                    f"{key!r} is already the key of {other} on the same screen "
                    f"(remap {other} too, or choose another key)",
                )
    return keymap
