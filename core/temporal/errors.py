"""Errors of the Temporal runner; `str()` is one line for the user."""

from __future__ import annotations

from core.errors import DelegateError

INSTALL_HINT = "pip install 'delegate[temporal]'  (or: pip install -e \".[temporal]\")"


class TemporalUnavailable(DelegateError):
    """Temporal cannot be used here: the extra is missing, or the server cannot be reached."""


def require_sdk() -> None:
    """Raise TemporalUnavailable with the one-line how-to when the SDK is not installed."""
    try:
        import temporalio  # noqa: F401
    except ImportError:
        raise TemporalUnavailable(
            f"--runner temporal needs the Temporal SDK, which is not installed: {INSTALL_HINT}"
        ) from None
