"""The file collision radar: two live agents writing one path, or a write outside an
agent's own files while others run, is told at once to both agents and the CEO.

It listens to the evidence recorder's write hook, which fires when a write_file or
edit_file starts (so an agent still writing counts) and when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from core.events import CEO_ID

# (agent that wrote, other agent or "" for a write outside its files, path)
Notify = Callable[[str, str, str], None]


def _norm(path: str) -> str:
    return PurePosixPath(path.strip().lstrip("./") or ".").as_posix()


def within(path: str, owned: Iterable[str]) -> bool:
    """`path` is one of the owned files, or inside an owned directory (`site/` or `site`)."""
    p = _norm(path)
    for o in owned:
        o = _norm(o).rstrip("/")
        if p == o or p.startswith(o + "/"):
            return True
    return False


@dataclass
class CollisionRadar:
    is_live: Callable[[str], bool]  # the agent has not ended
    live_others: Callable[[str], list[str]]  # other live sub-agents of the run
    notify: Notify
    owned: dict[str, tuple[str, ...]] = field(default_factory=dict)
    writers: dict[str, set[str]] = field(default_factory=dict)
    _told: set[tuple[frozenset[str], str]] = field(default_factory=set)

    def own(self, agent_id: str, files: Iterable[str]) -> None:
        self.owned[agent_id] = tuple(_norm(f) for f in files if f.strip())

    def on_write(self, agent_id: str, path: str, finished: bool) -> None:
        if agent_id == CEO_ID or finished:
            return
        path = _norm(path)
        others = self.writers.setdefault(path, set())
        for other in sorted(others):
            if other != agent_id and self.is_live(other):
                self._once(frozenset({agent_id, other}), path, agent_id, other)
        others.add(agent_id)
        owned = self.owned.get(agent_id)
        if owned and not within(path, owned) and self.live_others(agent_id):
            self._once(frozenset({agent_id}), path, agent_id, "")

    def _once(self, key: frozenset[str], path: str, agent_id: str, other: str) -> None:
        if (key, path) in self._told:
            return
        self._told.add((key, path))
        self.notify(agent_id, other, path)
