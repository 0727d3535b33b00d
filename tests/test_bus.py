"""The event bus coalesces an agent's text deltas per loop iteration, and nothing else."""

from __future__ import annotations

import asyncio

from core.bus import EventBus
from core.events import Event, Notice, TextDelta, ThinkingDelta

R = "run"


def text(agent: str, s: str, turn: int = 1) -> TextDelta:
    return TextDelta(run_id=R, agent_id=agent, turn=turn, text=s)


def shape(events: list[Event]) -> list[tuple[str, str | None, str]]:
    return [(e.kind, e.agent_id, getattr(e, "text", "")) for e in events]


async def test_deltas_of_one_iteration_come_as_one_event_per_agent_after_it() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    stream = bus.stream()
    first = text("a", "Hel")
    for event in (first, text("b", "one "), text("a", "lo "), text("b", "two"), text("a", "you")):
        bus.publish(event)
    assert seen == []  # held until the iteration's callbacks have run
    await asyncio.sleep(0)
    assert shape(seen) == [
        ("text_delta", "a", "Hello you"),
        ("text_delta", "b", "one two"),
    ]
    assert seen[0].ts == first.ts
    assert (bus.published, bus.delivered) == (5, 2)
    assert [await anext(stream), await anext(stream)] == seen  # streams get the same

    bus.publish(text("a", "next "))
    await asyncio.sleep(0)
    bus.publish(text("a", "iteration"))
    await asyncio.sleep(0)
    assert shape(seen[2:]) == [("text_delta", "a", "next "), ("text_delta", "a", "iteration")]


async def test_any_other_event_keeps_its_place() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.publish(text("a", "before "))
    bus.publish(text("b", "b's "))
    bus.publish(Notice(run_id=R, agent_id="b", text="note"))
    bus.publish(text("a", "after"))
    assert shape(seen) == [
        ("text_delta", "a", "before "),
        ("text_delta", "b", "b's "),
        ("notice", "b", "note"),
    ]
    await asyncio.sleep(0)
    assert shape(seen)[-1] == ("text_delta", "a", "after")


async def test_kinds_and_turns_are_never_merged() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.publish(ThinkingDelta(run_id=R, agent_id="a", turn=1, text="think "))
    bus.publish(ThinkingDelta(run_id=R, agent_id="a", turn=1, text="more"))
    bus.publish(text("a", "say"))
    bus.publish(ThinkingDelta(run_id=R, agent_id="a", turn=1, text="again"))
    bus.publish(text("a", "turn two", turn=2))
    bus.close()  # flushes
    assert shape(seen) == [
        ("thinking_delta", "a", "think more"),
        ("text_delta", "a", "say"),
        ("thinking_delta", "a", "again"),
        ("text_delta", "a", "turn two"),
    ]
    assert [getattr(e, "turn", 0) for e in seen] == [1, 1, 1, 2]


def test_outside_a_running_loop_every_event_is_delivered_at_once() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.publish(text("a", "x"))
    bus.publish(text("a", "y"))
    assert shape(seen) == [("text_delta", "a", "x"), ("text_delta", "a", "y")]
