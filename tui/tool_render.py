"""Tool calls drawn for people: files as code blocks in their language, commands as
`$ command`, other inputs as `key: value`; results capped at a few lines until expanded.

Shared by the transcript (tui/screens/transcript.py) and the CEO's tool lines in the chat
(tui/widgets/ceo_chat.py, tui/widgets/tool_line.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.color import Color, ColorParseError

RESULT_LINES = 20  # result lines shown until the item is expanded
CODE_LINES = 40  # lines of a file's content shown until the item is expanded
VALUE_CHARS = 300  # a key: value line's value, until expanded
COMMAND_TOOLS = frozenset({"run_command", "run_check"})
FILE_TOOLS = frozenset({"write_file", "edit_file"})
# Code themes whose every token reaches WCAG AA on their own background.
CODE_THEME_DARK, CODE_THEME_LIGHT = "github-dark", "xcode"


@dataclass(frozen=True)
class Palette:
    """Rich colours for the transcript's roles; `palette_for` takes them from the theme."""

    model: str = "cyan"
    input: str = "green"
    tool: str = "yellow"
    error: str = "red"
    muted: str = "default"


def palette_for(variables: Mapping[str, str]) -> Palette:
    """The theme's `$legible-*` colours (tui/contrast.py) as Rich colour names."""

    def rich(name: str, fallback: str) -> str:
        try:
            return Color.parse(variables[f"legible-{name}"]).rich_color.name
        except (KeyError, ColorParseError):
            return fallback

    return Palette(
        model=rich("secondary", "cyan"),
        input=rich("success", "green"),
        tool=rich("warning", "yellow"),
        error=rich("error", "red"),
        muted=rich("muted", "default"),
    )


def language(path: str, code: str = "") -> str:
    """The highlighting language for a file name (`index.html` -> `html`), `text` if none."""
    lexer = Syntax.guess_lexer(path or "x", code or None)
    return "text" if lexer == "default" else lexer


def code_block(code: str, path: str, dark: bool, *, expanded: bool) -> tuple[Syntax, int]:
    """`code` highlighted in the language of `path`, and how many lines were left out."""
    lines = code.splitlines()
    hidden = 0 if expanded else max(0, len(lines) - CODE_LINES)
    shown = "\n".join(lines[:CODE_LINES]) if hidden else code.rstrip("\n")
    syntax = Syntax(
        shown,
        language(path, code),
        theme=CODE_THEME_DARK if dark else CODE_THEME_LIGHT,
        line_numbers=False,  # Rich draws them dimmed, below AA in most themes
        word_wrap=True,
        padding=(0, 1),
    )
    return syntax, hidden


def _scalar(value: Any, cap: int | None) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if cap is not None and len(text) > cap:
        text = text[:cap] + f"… ({len(text) - cap} more characters)"
    return text


def _lines(value: Any, indent: int, cap: int | None) -> Iterator[str]:
    """YAML-like lines for JSON data: `key: value`, `- item`, nested data indented, and a
    string's own line breaks as lines (never `\\n` escapes)."""
    pad = "  " * indent
    items: Iterable[tuple[str, Any]] = (
        value.items() if isinstance(value, dict) else (("-", v) for v in value)
    )
    for key, item in items:
        head = f"{pad}{key}:" if key != "-" else f"{pad}-"
        if isinstance(item, dict | list) and item:
            sub = list(_lines(item, indent + 1, cap))
            if key == "-":  # `- first: line` then the rest under it
                yield f"{head} {sub[0].lstrip()}"
                yield from sub[1:]
            else:
                yield head
                yield from sub
            continue
        text = _scalar(item, cap)
        if "\n" in text:
            yield head
            yield from (f"{pad}  {line}" for line in text.splitlines())
        else:
            yield f"{head} {text}"


def readable(body: str) -> str:
    """A tool's output for people: JSON objects and lists as `key: value` lines."""
    stripped = body.strip()
    if stripped[:1] not in ("{", "["):
        return body
    try:
        data = json.loads(stripped)
    except ValueError:
        return body
    if not isinstance(data, dict | list) or not data:
        return body
    return "\n".join(_lines(data, 0, None))


def key_values(args: dict[str, Any], *, expanded: bool, skip: tuple[str, ...] = ()) -> Text:
    """`key: value` lines (keys in bold); nested data and multi-line values indented."""
    shown = {k: v for k, v in args.items() if k not in skip}
    text = Text("\n".join(_lines(shown, 0, None if expanded else VALUE_CHARS)))
    text.highlight_regex(r"(?m)^\s*(- )?[^\s:][^:\n]*:(?= |$)", "bold")
    return text


def tool_input(
    name: str, args: dict[str, Any], *, dark: bool = True, expanded: bool = False
) -> tuple[list[RenderableType], int]:
    """The input of one call as renderables (after its `→ name` line), and how many lines
    of file content are left out until it is expanded."""
    if name in COMMAND_TOOLS and isinstance(args.get("command"), str):
        out: list[RenderableType] = [Text.assemble(("$ ", "bold"), (args["command"], "bold"))]
        rest = key_values(args, expanded=expanded, skip=("command",))
        if rest:
            out.append(rest)
        return out, 0
    path = str(args.get("path", ""))
    if name == "write_file" and isinstance(args.get("content"), str):
        content = args["content"]
        block, hidden = code_block(content, path, dark, expanded=expanded)
        head = Text.assemble(
            (path, "bold"), f" · {language(path, content)} · {_count(content, 'line')}"
        )
        return [head, block], hidden
    if name == "edit_file" and isinstance(args.get("new_text"), str):
        out = [Text(path, style="bold")]
        hidden = 0
        for label, key in (("replace", "old_text"), ("with", "new_text")):
            text = str(args.get(key, ""))
            block, left = code_block(text, path, dark, expanded=expanded)
            out += [Text(f"{label} ({_count(text, 'line')}):", style="italic"), block]
            hidden += left
        return out, hidden
    pairs = key_values(args, expanded=expanded)
    return ([pairs] if pairs else []), 0


def result_lines(body: str, *, expanded: bool) -> tuple[list[str], int]:
    """A result's lines (JSON made `readable`), capped at RESULT_LINES unless expanded,
    and how many are hidden."""
    lines = readable(body).splitlines()
    if expanded or len(lines) <= RESULT_LINES:
        return lines, 0
    return lines[:RESULT_LINES], len(lines) - RESULT_LINES


def more_line(hidden: int, how: str, action: str | None = None) -> Text:
    """`… 12 more lines (click, or o for all)`: clickable when `action` is given."""
    style = Style(italic=True, underline=action is not None)
    if action is not None:
        style += Style(meta={"@click": action})
    return Text(f"… {hidden} more line{'s' * (hidden != 1)} ({how})", style=style)


def _count(text: str, unit: str) -> str:
    n = len(text.splitlines())
    return f"{n} {unit}{'s' * (n != 1)}"
