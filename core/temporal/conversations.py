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
from pathlib import Path
from typing import Any


class ConversationStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        safe = name.replace("/", "_").replace("\\", "_")
        return self.root / f"{safe}.json"

    def load(self, name: str) -> list[dict[str, Any]]:
        try:
            data = json.loads(self._path(name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return list(data)

    def save(self, name: str, messages: list[dict[str, Any]]) -> None:
        """Atomically (a crash mid-write leaves the last turn's version)."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(messages, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
