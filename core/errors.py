"""The one base of every error meant for the user.

`str(error)` is one readable line that says what went wrong and, where it can, what
to do. The CLI catches `DelegateError` once: it prints `delegate: <line>` (secrets
redacted) and exits 2, with no traceback. Anything else that escapes is a bug.
"""

from __future__ import annotations


class DelegateError(Exception):
    """An error for the user: one line; the CLI exits 2."""


class UsageError(DelegateError):
    """Bad input on the command line (an option, a path, a run id)."""
