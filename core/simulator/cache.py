"""Token counting and prompt caching, following the API's rules.

The prompt is read as a sequence of blocks (tools, then system, then messages). Each
`cache_control` marker ends a cacheable prefix. A prefix written within its TTL is read
from the cache, found like the API does: at the marker or at one of the LOOKBACK_BLOCKS
block boundaries before it (so a marker moved to the end of a growing conversation reads
the prefix the previous turn wrote); a longer marked prefix of at least `min_tokens` is
written; the rest is plain input. The cache is an LRU of prefix hashes with a fixed size.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.simulator.reply import estimate_tokens

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20  # block boundaries searched for a hit before each marker


class Segment(NamedTuple):  # a tuple: a prompt makes one per block, per request
    tokens: int
    digest: bytes  # hash of the prompt up to and including this block
    ttl: str | None  # set when the block carries cache_control
    block: bool = True  # False for a message's role marker (not a block boundary)


@dataclass(frozen=True)
class Billing:
    input_tokens: int
    cache_write: int
    cache_read: int
    ttl: str = "5m"

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_write + self.cache_read


# `json.dumps(x, sort_keys=True)` and `json.dumps(x)`, made once: `dumps` with an option
# builds a new encoder on every call (a prompt has a block or more per message).
_dumps_sorted = json.JSONEncoder(sort_keys=True).encode
_dumps = json.JSONEncoder().encode


def _strip(block: Any) -> tuple[str, str | None]:
    """The block serialised without its marker, and the marker's TTL if it has one."""
    if isinstance(block, dict):
        if "cache_control" not in block:
            return _dumps_sorted(block), None
        marker = block["cache_control"]
        body = {k: v for k, v in block.items() if k != "cache_control"}
        ttl = None
        if isinstance(marker, dict):
            ttl = str(marker.get("ttl", "5m"))
        return _dumps_sorted(body), ttl
    return _dumps(block), None


def _prompt_parts(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The prompt in cache order: ("block", a tool, system or content block), ("text", a
    value serialised whole) or ("role", a message's role marker)."""
    for tool in body.get("tools") or []:
        yield "block", tool
    system = body.get("system")
    if isinstance(system, str) and system:
        yield "text", {"system": system}
    elif isinstance(system, list):
        for block in system:
            yield "block", block
    for message in body.get("messages") or []:
        yield "role", message.get("role", "") if isinstance(message, dict) else ""
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for block in content:
                yield "block", block
        else:
            yield "text", content


def _has_marker(kind: str, value: Any) -> bool:
    return (
        kind == "block" and isinstance(value, dict) and isinstance(value.get("cache_control"), dict)
    )


def segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt's blocks in cache order, each with the running hash of the prefix."""
    raw: list[tuple[str, str | None]] = []
    roles: set[int] = set()  # indexes of role markers
    for kind, value in _prompt_parts(body):
        if kind == "role":
            roles.add(len(raw))
            raw.append((f"<{value}>", None))
        elif kind == "block":
            raw.append(_strip(value))
        else:
            raw.append((_dumps(value), None))
    top = body.get("cache_control")
    if isinstance(top, dict) and raw:
        text, _ttl = raw[-1]
        raw[-1] = (text, str(top.get("ttl", "5m")))
    h = hashlib.sha256(str(body.get("model", "")).encode())
    out: list[Segment] = []
    for i, (text, ttl) in enumerate(raw):
        h.update(text.encode())
        out.append(Segment(estimate_tokens(text), h.copy().digest(), ttl, i not in roles))
    return out


def count_tokens(body: dict[str, Any]) -> int:
    return max(1, sum(s.tokens for s in segments(body)))


def breakpoint_count(body: dict[str, Any]) -> int:
    """Cache markers in the prompt, counted as `segments` sees them but without
    serialising or hashing anything (the request check runs on every request)."""
    marks = [_has_marker(kind, value) for kind, value in _prompt_parts(body)]
    if isinstance(body.get("cache_control"), dict) and marks:
        marks[-1] = True
    return sum(marks)


class PromptCache:
    """Remembered prefixes by hash, with expiry and a bounded size."""

    def __init__(
        self,
        min_tokens: int | Callable[[str], int] = 1024,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # One minimum for every model, or the model's own (the API's differ per model).
        self.min_tokens = min_tokens
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, float] = OrderedDict()  # digest -> expiry

    def __len__(self) -> int:
        return len(self._entries)

    def _alive(self, digest: bytes, now: float) -> bool:
        expiry = self._entries.get(digest)
        if expiry is None:
            return False
        if expiry < now:
            del self._entries[digest]
            return False
        return True

    def _remember(self, digest: bytes, ttl: str, now: float) -> None:
        self._entries[digest] = now + TTL_SECONDS.get(ttl, 300.0)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def bill(self, body: dict[str, Any]) -> Billing:
        """Split the prompt's tokens into input, cache write and cache read; update the cache."""
        segs = segments(body)
        total = max(1, sum(s.tokens for s in segs))
        now = self.clock()
        prefix = 0
        ends: list[int] = []  # prefix tokens up to and including each segment
        marks: list[tuple[int, Segment]] = []  # (index, segment) at each marker, then tokens
        for i, seg in enumerate(segs):
            prefix += seg.tokens
            ends.append(prefix)
            if seg.ttl is not None:
                marks.append((i, seg))
        if not marks:
            return Billing(total, 0, 0)
        read = 0
        for i, seg in reversed(marks):
            hit = self._lookback(segs, i, now)
            if hit is not None:
                read = ends[hit]
                self._remember(segs[hit].digest, seg.ttl or "5m", now)  # a hit refreshes it
                break
        marks = [(ends[i], seg) for i, seg in marks]
        write = 0
        ttl = "5m"
        least = self.min_tokens
        if callable(least):
            least = least(str(body.get("model", "")))
        for tokens, seg in marks:
            if tokens > read and tokens >= least:
                self._remember(seg.digest, seg.ttl or "5m", now)
                write = tokens - read
                ttl = seg.ttl or "5m"
        return Billing(total - read - write, write, read, ttl)

    def _lookback(self, segs: list[Segment], mark: int, now: float) -> int | None:
        """The longest live prefix ending at the marker or a block boundary shortly before."""
        seen = 0
        i = mark
        while i >= 0 and seen <= LOOKBACK_BLOCKS:
            if segs[i].block:
                if self._alive(segs[i].digest, now):
                    return i
                seen += 1
            i -= 1
        return None
