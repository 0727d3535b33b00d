"""The workers' conversation store: the file is the truth, memory spares the re-reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.temporal import conversations
from core.temporal.conversations import ConversationStore, Saved


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    parses = [0]
    real = conversations.json.loads

    def counting(text: Any) -> Any:
        parses[0] += 1
        return real(text)

    monkeypatch.setattr(conversations.json, "loads", counting)
    return parses


def _turn(n: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"turn {i}"} for i in range(n)]


def test_a_turn_reads_what_this_worker_wrote_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConversationStore(tmp_path)
    store.save("run/a.1", Saved(1, _turn(2), {"stop_reason": "tool_use"}))
    parses = _count_parses(monkeypatch)
    got = store.load("run/a.1")
    assert (got.turn, got.messages, got.output) == (1, _turn(2), {"stop_reason": "tool_use"})
    assert parses[0] == 0
    # The file holds the same (a restarted worker reads it).
    fresh = ConversationStore(tmp_path).load("run/a.1")
    assert (fresh.turn, fresh.messages) == (1, _turn(2))
    assert parses[0] == 1


def test_another_workers_write_is_read_from_the_file(tmp_path: Path) -> None:
    mine, other = ConversationStore(tmp_path), ConversationStore(tmp_path)
    mine.save("run/a.1", Saved(1, _turn(1)))
    assert mine.load("run/a.1").turn == 1
    other.save("run/a.1", Saved(2, _turn(3), {"stop_reason": "end_turn"}))
    got = mine.load("run/a.1")
    assert (got.turn, got.messages, got.output) == (2, _turn(3), {"stop_reason": "end_turn"})
    (tmp_path / "run_a.1.json").unlink()
    assert mine.load("run/a.1") == Saved()


def test_what_a_turn_appends_does_not_change_the_kept_version(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    store.save("c", Saved(1, _turn(1), {"notes": []}))
    got = store.load("c")
    got.messages.append({"role": "assistant", "content": "half a reply"})
    assert got.output is not None
    got.output["notes"].append("x")
    again = store.load("c")
    assert again.messages == _turn(1) and again.output == {"notes": []}


def test_memory_keeps_the_newest_conversations_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversations, "CACHE_KEEP", 2)
    store = ConversationStore(tmp_path)
    for name in ("a", "b", "c"):
        store.save(name, Saved(1, _turn(1)))
    parses = _count_parses(monkeypatch)
    assert [store.load(n).turn for n in ("b", "c")] == [1, 1]
    assert parses[0] == 0
    assert store.load("a").turn == 1  # dropped from memory: read back from its file
    assert parses[0] == 1
