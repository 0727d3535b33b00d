"""Spend over time: each agent's running cost and output tokens, as the events said them.

`RunView` feeds it from the events (their own timestamps), so a replay draws the same
curve as the live run did, at any replay speed. `series` turns the points into spend
per time bucket for a sparkline. No Textual here.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

POINTS_KEPT = 4000  # per agent; older points are thinned (every other one dropped)


@dataclass
class _Track:
    times: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)  # cumulative dollars at each time
    tokens: list[int] = field(default_factory=list)  # cumulative output tokens

    def at(self, ts: float, *, strictly_before: bool = False) -> tuple[float, int]:
        """The cumulative figures as of `ts` (0 before the first point)."""
        find = bisect.bisect_left if strictly_before else bisect.bisect_right
        i = find(self.times, ts)
        return (self.costs[i - 1], self.tokens[i - 1]) if i else (0.0, 0)


class SpendTimeline:
    def __init__(self) -> None:
        self._tracks: dict[str, _Track] = {}

    def observe(self, ts: float, agent_id: str, cost: float | None, output_tokens: int) -> None:
        """An agent's running totals at `ts` (an unknown cost keeps the last known one)."""
        track = self._tracks.setdefault(agent_id, _Track())
        last_cost = track.costs[-1] if track.costs else 0.0
        last_tokens = track.tokens[-1] if track.tokens else 0
        value = last_cost if cost is None else cost
        if track.times and value == last_cost and output_tokens == last_tokens:
            return
        if track.times and ts <= track.times[-1]:
            ts = track.times[-1]  # events arrive in order; equal stamps replace the point
            track.costs[-1], track.tokens[-1] = value, output_tokens
            return
        track.times.append(ts)
        track.costs.append(value)
        track.tokens.append(output_tokens)
        if len(track.times) > POINTS_KEPT:  # keep the newest point exact
            track.times[:-1] = track.times[:-1:2]
            track.costs[:-1] = track.costs[:-1:2]
            track.tokens[:-1] = track.tokens[:-1:2]

    @property
    def agents(self) -> list[str]:
        return list(self._tracks)

    def first_ts(self) -> float | None:
        starts = [t.times[0] for t in self._tracks.values() if t.times]
        return min(starts) if starts else None

    def series(
        self, start: float, end: float, buckets: int, agent_ids: list[str] | None = None
    ) -> list[float]:
        """Dollars spent in each of `buckets` equal slices of [start, end] by the agents
        named (all: None). The slices add up to the spend between `start` and `end`."""
        if buckets <= 0:
            return []
        end = max(end, start + 1e-9)
        edges = [start + (end - start) * i / buckets for i in range(buckets + 1)]
        out = [0.0] * buckets
        ids = self.agents if agent_ids is None else agent_ids
        for agent_id in ids:
            track = self._tracks.get(agent_id)
            if track is None or not track.times:
                continue
            values = [track.at(start, strictly_before=True)[0]]  # a point at `start` counts
            values += [track.at(edge)[0] for edge in edges[1:]]
            for i in range(buckets):
                out[i] += values[i + 1] - values[i]
        return out
