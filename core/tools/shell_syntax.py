"""How a command line reads: whether it is one simple command or more."""

from __future__ import annotations

import re

__all__ = ["has_shell_control"]

# Anything that makes a line more than one simple command with plain arguments.
_CONTROL = re.compile(r"[;&|`<>\n\r]|\$\(|\$\{|\\$")


def has_shell_control(command: str) -> bool:
    """True if the command chains, pipes, redirects, substitutes or spans lines.

    Quotes are honoured as the shell does: `grep '<h1>' x` is one plain command, since
    nothing is special inside single quotes; inside double quotes only substitution
    (`$(`, `${`, backticks) is. An unbalanced quote counts as control.
    """
    text = command.strip()
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
        elif c == "\\":
            if i + 1 >= len(text) or text[i + 1] in "\n\r":
                return True  # a line continuation
            i += 2
            continue
        elif quote == '"':
            if c == '"':
                quote = ""
            elif _CONTROL.match(text, i) and c in "`$\n\r":
                return True
        elif c in "'\"":
            quote = c
        elif _CONTROL.match(text, i):
            return True
        i += 1
    return quote != ""
