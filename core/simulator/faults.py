"""Injected API faults: HTTP errors before the stream, and failures inside it.

HTTP faults are retried by the SDK itself; stream faults are not (the app must cope).
"""

from __future__ import annotations

# kind -> (status, error type, message, extra headers)
HTTP_FAULTS: dict[str, tuple[int, str, str, dict[str, str]]] = {
    "rate_limit": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit (simulated)",
        {"retry-after": "1"},
    ),
    "overloaded": (529, "overloaded_error", "Overloaded", {}),
    "server_error": (500, "api_error", "Internal server error", {}),
}
# An `event: error` mid-stream; a dropped connection mid-stream; a stream that ends
# without `message_delta`/`message_stop`.
STREAM_FAULTS = ("stream_error", "drop", "truncate")
FAULT_KINDS = (*HTTP_FAULTS, *STREAM_FAULTS)
