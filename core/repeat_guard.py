"""The loop detector: the same tool call, again and again, with nothing changing.

A call repeats when its name and input equal the previous call's and the previous
one's result was the same as the one before it (a wait that returns new results each
time is progress, not a loop; so is one that really waited while agents worked). The
`limit`-th identical call in a row is not run: the model gets a tool error saying it
is repeating itself. At twice the limit the agent is stopped as stuck. Calls within
one reply count in their order; identical calls within one reply count once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DEFAULT_LIMIT = 4


def call_key(name: str, args: Any) -> str:
    """Name and input, canonical (key order does not matter)."""
    try:
        body = json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        body = repr(args)
    return f"{name}\x00{body}"


@dataclass(frozen=True)
class Verdict:
    blocked: bool  # answer with the repetition error instead of running it
    stuck: bool  # the agent must stop
    count: int  # this call's place in the run of identical calls


class RepeatGuard:
    """Remembers the latest run of identical calls across replies."""

    def __init__(self, limit: int | None = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._key: str | None = None
        self._result: str | None = None
        self._count = 0

    def judge(self, calls: list[tuple[str, Any]]) -> list[Verdict]:
        """What to do with each call of a reply, in order, before any of them runs.

        Identical calls side by side in one reply count once: a reply is one step.
        """
        key, count = self._key, self._count
        seen: set[str] = set()
        out: list[Verdict] = []
        for name, args in calls:
            k = call_key(name, args)
            if k not in seen:
                seen.add(k)
                count = count + 1 if k == key else 1
                key = k
            this = count if k == key else 1
            limit = self.limit
            out.append(
                Verdict(
                    blocked=limit is not None and this >= limit,
                    stuck=limit is not None and this >= 2 * limit,
                    count=this,
                )
            )
        return out

    def record(self, calls: list[tuple[str, Any, str | None, bool]]) -> None:
        """The reply's calls as (name, input, result text, progress), in order. A result
        of None: refused as a repeat, which continues the run. `progress`: the call waited
        on work going on elsewhere (wait_for_agents while agents ran), so it is no repeat.
        """
        seen: set[str] = set()
        for name, args, result, progress in calls:
            k = call_key(name, args)
            if k in seen:
                continue
            seen.add(k)
            if progress:
                self._key, self._result, self._count = None, None, 0
            elif k == self._key and (result is None or result == self._result):
                self._count += 1
            else:
                self._count = 1  # a new call, or the same call with a new result: progress
                self._key, self._result = k, result

    def message(self, name: str, count: int) -> str:
        limit = self.limit or count
        return (
            f"you have made this exact {name} call {count} times in a row with the same "
            "result, so it was not run again: you are repeating yourself. Change the call "
            "or your approach, or finish and report what you have. At "
            f"{2 * limit} identical calls in a row you are stopped as stuck."
        )
