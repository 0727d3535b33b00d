"""Errors of the Temporal runner; `str()` is one line for the user."""

from __future__ import annotations

import re

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


def unreachable(address: str, exc: BaseException, timeout_s: float) -> TemporalUnavailable:
    """The one line for a Temporal server that did not answer at `address`: the cause
    the SDK's (Rust) error names at its core, not its whole debug dump."""
    return TemporalUnavailable(f"cannot reach Temporal at {address}: {_cause(exc, timeout_s)}")


def _cause(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    text = " ".join(str(exc).split())
    said = re.findall(r'message: "([^"]+)"', text) or re.findall(r'error: "([^"]+)"', text)
    cause = said[-1] if said else text[:200]
    if "Unimplemented" in text or "HTTP status code" in text:
        return f"something answered there, but not a Temporal frontend ({cause})"
    return cause or type(exc).__name__
