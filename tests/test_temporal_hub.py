"""The live event hub: token, per-publisher cursor (nothing lost or doubled on a
reconnect), a subscriber's replay from a cursor."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.events import Event, Notice, TextDelta

pytest.importorskip("temporalio")

from core.temporal import hub as hub_module
from core.temporal.hub import UNREACHABLE_WAIT_S, EventHub, HubAddress, Publisher


def delta(i: int) -> TextDelta:
    return TextDelta(run_id="r", agent_id="a", turn=1, text=f"t{i}")


async def test_events_reach_subscribers_in_order_and_flush_waits_for_the_ack() -> None:
    hub = EventHub()
    seen: list[tuple[int, Event]] = []
    hub.subscribe(lambda seq, e: seen.append((seq, e)))
    address = await hub.start()
    pub = Publisher(address, "w1")
    for i in range(500):
        pub.emit(delta(i))
    assert await pub.flush(5)
    assert [e.text for _, e in seen] == [f"t{i}" for i in range(500)]  # type: ignore[attr-defined]
    assert [s for s, _ in seen] == list(range(1, 501))
    await pub.close()
    await hub.close()


async def test_a_wrong_token_is_refused() -> None:
    hub = EventHub()
    seen: list[Event] = []
    hub.subscribe(lambda seq, e: seen.append(e))
    address = await hub.start()
    pub = Publisher(HubAddress(address.host, address.port, "not-the-token"), "w1")
    pub.emit(delta(1))
    assert not await pub.flush(0.5)
    assert seen == [] and hub.refused >= 1
    await pub.close()
    await hub.close()


async def test_a_publisher_that_reconnects_resends_only_what_the_hub_lacks() -> None:
    hub = EventHub()
    seen: list[Event] = []
    hub.subscribe(lambda seq, e: seen.append(e))
    address = await hub.start()
    pub = Publisher(address, "w1")
    for i in range(10):
        pub.emit(delta(i))
    assert await pub.flush(5)
    # The connection breaks (the hub's side closes it); events emitted meanwhile wait.
    for w in list(hub._writers):
        w.close()
    for i in range(10, 20):
        pub.emit(delta(i))
    # The hub also saw some of them before the break was noticed: resent, not doubled.
    hub._accept("w1", 11, delta(10).to_dict())
    assert await pub.flush(5)
    assert [e.text for e in seen] == [f"t{i}" for i in range(20)]  # type: ignore[attr-defined]
    await pub.close()
    await hub.close()


async def test_a_subscriber_replays_from_its_cursor_then_follows() -> None:
    hub = EventHub()
    address = await hub.start()
    pub = Publisher(address, "w1")
    for i in range(5):
        pub.emit(Notice(run_id="r", text=f"n{i}"))
    assert await pub.flush(5)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(json.dumps({"token": address.token, "role": "sub", "cursor": 3}).encode() + b"\n")
    got = [json.loads(await reader.readline()) for _ in range(2)]
    assert [(m["seq"], m["event"]["text"]) for m in got] == [(4, "n3"), (5, "n4")]
    pub.emit(Notice(run_id="r", text="live"))
    live = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert (live["seq"], live["event"]["text"]) == (6, "live")
    writer.close()
    await pub.close()
    await hub.close()


async def test_spend_reaches_the_hub_coalesced_and_a_stop_reaches_its_attempt() -> None:
    hub = EventHub()
    spent: list[tuple[str, int, float]] = []
    hub.spend_watchers.append(lambda a, n, usd: spent.append((a, n, usd)))
    address = await hub.start()
    pub = Publisher(address, "w1")
    stopped: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    pub.stop_handlers[("a", 1)] = lambda state, reason: stopped.set_result((state, reason))
    pub.stop_handlers[("a", 2)] = lambda state, reason: pytest.fail("another attempt")
    for i in range(1, 51):  # no wait between: only the newest value need go
        pub.spend("a", 1, i / 100)
    pub.emit(delta(0))
    assert await pub.flush(5)
    assert spent and spent[-1] == ("a", 1, 0.5) and len(spent) < 50
    hub.stop("a", 1, "failed", "the run's budget of $0.0100 was spent")
    assert await asyncio.wait_for(stopped, 5) == ("failed", "the run's budget of $0.0100 was spent")
    await pub.close()
    await hub.close()


async def test_a_publisher_whose_hub_died_moves_to_the_new_one_and_loses_nothing() -> None:
    old, new = EventHub(), EventHub()
    seen_old: list[Event] = []
    seen_new: list[Event] = []
    old.subscribe(lambda seq, e: seen_old.append(e))
    new.subscribe(lambda seq, e: seen_new.append(e))
    old_address, new_address = await old.start(), await new.start()
    moved_to: HubAddress | None = None  # until a resumed session tells where it went

    async def relocate() -> HubAddress | None:
        return moved_to

    pub = Publisher(old_address, "w1")
    pub.relocate = relocate
    for i in range(5):
        pub.emit(delta(i))
    assert await pub.flush(5)
    await old.close()  # the session died
    for i in range(5, 10):
        pub.emit(delta(i))
    assert not await pub.flush(0.3)  # nowhere to go yet
    moved_to = new_address
    assert await pub.flush(5)
    assert [e.text for e in seen_old] == [f"t{i}" for i in range(5)]  # type: ignore[attr-defined]
    assert [e.text for e in seen_new] == [f"t{i}" for i in range(5, 10)]  # type: ignore[attr-defined]
    await pub.close()
    await new.close()


async def test_a_publisher_looking_for_its_hub_tries_again_well_within_an_ending_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While no hub answers, the publisher backs off, but never longer than a third of
    what an ending activity waits for its events: once a resumed session says where its
    hub is, the next try finds it within that wait (it backed off to 2 s before)."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def quick_sleep(delay: float) -> None:  # record the back-off, do not wait it
        waits.append(delay)
        await real_sleep(0.001)

    old, new = EventHub(), EventHub()
    seen: list[Event] = []
    new.subscribe(lambda seq, e: seen.append(e))
    old_address, new_address = await old.start(), await new.start()
    moved_to: HubAddress | None = None

    async def relocate() -> HubAddress | None:
        return moved_to

    pub = Publisher(old_address, "w1")
    pub.relocate = relocate
    await old.close()  # the session died before the first event
    monkeypatch.setattr(hub_module.asyncio, "sleep", quick_sleep)
    pub.emit(delta(0))
    for _ in range(2000):
        if len(waits) >= 12:
            break
        await real_sleep(0.005)
    monkeypatch.undo()
    assert len(waits) >= 12, waits
    assert waits[0] < waits[-1] <= UNREACHABLE_WAIT_S / 3  # it backs off, up to a cap
    moved_to = new_address
    assert await pub.flush()  # disconnected: waits at most UNREACHABLE_WAIT_S
    assert [e.text for e in seen] == ["t0"]  # type: ignore[attr-defined]
    await pub.close()
    await new.close()
