"""Where a worker keeps the conversations of the attempts it runs (out of Temporal).

A workflow payload over 2 MB fails and a workflow's history is capped at 50 MB, so a
conversation (which grows with every turn and every file the agent read) is never a
payload: the model-turn activity loads it by name, adds the turn, and writes it back.
Model turns run on the workspace's task queue, so the workers that read a conversation
are the ones that wrote it (one directory per workspace host).
"""

from __future__ import annotations

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


class ConversationStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        safe = name.replace("/", "_").replace("\\", "_")
        return self.root / f"{safe}.json"

    def load(self, name: str) -> Saved:
        try:
            data = json.loads(self._path(name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Saved()
        return Saved(int(data["turn"]), list(data["messages"]), data.get("output"))

    def save(self, name: str, saved: Saved) -> None:
        """Atomically (a crash mid-write leaves the last turn's version)."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = {"turn": saved.turn, "messages": saved.messages, "output": saved.output}
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
