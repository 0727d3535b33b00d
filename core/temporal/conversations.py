"""Where a worker keeps the conversations of the attempts it runs (out of Temporal).

A workflow payload over 2 MB fails and a workflow's history is capped at 50 MB, so a
conversation (which grows with every turn and every file the agent read) is never a
payload: the model-turn activity loads it by name, adds the turn, and writes it back.
Model turns run on the workspace's task queue, so the workers that read a conversation
are the ones that wrote it (one directory per workspace host).
"""

from __future__ import annotations

import collections
import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Saved:
    """A conversation as of the end of `turn` (0: not started), and that turn's output
    when it completed: a turn run again after its report was lost (at least once) answers
    with it instead of calling the model twice and doubling the history."""

    turn: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] | None = None


CACHE_KEEP = 256  # conversations a worker keeps in memory (the newest used)


class ConversationStore:
    """The files, and in memory the version this worker last read or wrote of each: a
    turn reads its conversation back only when the file changed since (another worker
    of the workspace ran a turn, or this one restarted). A long agent's conversation is
    megabytes of JSON, parsed again on every turn without this."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: collections.OrderedDict[str, tuple[tuple[int, int, int], Saved]] = (
            collections.OrderedDict()
        )

    def _path(self, name: str) -> Path:
        safe = name.replace("/", "_").replace("\\", "_")
        return self.root / f"{safe}.json"

    def load(self, name: str) -> Saved:
        path = self._path(name)
        try:
            stamp = _stamp(path)
        except FileNotFoundError:
            self._cache.pop(name, None)
            return Saved()
        hit = self._cache.get(name)
        if hit is not None and hit[0] == stamp:
            self._cache.move_to_end(name)
            return _copy(hit[1])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Saved()
        saved = Saved(int(data["turn"]), list(data["messages"]), data.get("output"))
        self._keep(name, stamp, saved)
        return _copy(saved)

    def save(self, name: str, saved: Saved) -> None:
        """Atomically (a crash mid-write leaves the last turn's version)."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = {"turn": saved.turn, "messages": saved.messages, "output": saved.output}
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        stamp = _stamp(tmp)
        os.replace(tmp, path)
        self._keep(name, stamp, _copy(saved))

    def _keep(self, name: str, stamp: tuple[int, int, int], saved: Saved) -> None:
        self._cache[name] = (stamp, saved)
        self._cache.move_to_end(name)
        while len(self._cache) > CACHE_KEEP:
            self._cache.popitem(last=False)


def _stamp(path: Path) -> tuple[int, int, int]:
    """Which version of the file this is: another writer's replaces the inode."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def _copy(saved: Saved) -> Saved:
    """The turn appends to its list of messages: never to the one kept here."""
    output = None if saved.output is None else copy.deepcopy(saved.output)
    return Saved(saved.turn, list(saved.messages), output)
