"""The events behave as `@dataclass(frozen=True, kw_only=True)` classes, though their
methods are compiled once for all (core/events.py, `frozen_event`)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from core import events
from core.events import Event, TextDelta, ThinkingDelta


def sample(cls: type[Event], **over: object) -> Event:
    """An instance with every field given: required ones a value of their own."""
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        values[f.name] = f"{f.name}-value"
    values.update(over)
    return cls(**values)


CLASSES = sorted(set(events._REGISTRY.values()), key=lambda c: c.kind)


def test_every_event_kind_is_a_frozen_keyword_only_dataclass() -> None:
    assert len(CLASSES) > 30
    for cls in CLASSES:
        assert dataclasses.is_dataclass(cls)
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        with pytest.raises(TypeError):
            cls()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            cls("positional")  # type: ignore[call-arg, misc]
        with pytest.raises(TypeError):
            cls(**{name: 1 for name in required}, not_a_field=1)  # type: ignore[arg-type]
        event = cls(**{name: 1 for name in required})  # type: ignore[arg-type]
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                assert getattr(event, f.name) == f.default
        assert isinstance(event.ts, float)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.run_id = "other"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del event.run_id  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.new_attribute = 1  # type: ignore[attr-defined]


def test_equality_hash_repr_and_round_trips_as_a_dataclass() -> None:
    for cls in CLASSES:
        event = sample(cls, ts=1.5)
        twin = sample(cls, ts=1.5)
        assert event == twin and hash(event) == hash(twin)
        names = [f.name for f in dataclasses.fields(cls)]
        values = tuple(getattr(event, n) for n in names)
        assert hash(event) == hash(values)  # as a frozen dataclass hashes
        assert (
            repr(event)
            == f"{cls.__qualname__}(" + ", ".join(f"{n}={getattr(event, n)!r}" for n in names) + ")"
        )
        assert event != dataclasses.replace(event, ts=2.5)
        assert dataclasses.replace(event, ts=2.5).ts == 2.5
        assert list(event.to_dict()) == [*names, "kind"]
        assert Event.from_dict(event.to_dict()) == event
        assert dataclasses.asdict(event) == {n: getattr(event, n) for n in names}
        assert pickle.loads(pickle.dumps(event)) == event
    # Same fields, another kind: not equal (a dataclass compares its own class only).
    text = TextDelta(run_id="r", agent_id="a", ts=1.0, turn=1, text="x")
    thinking = ThinkingDelta(run_id="r", agent_id="a", ts=1.0, turn=1, text="x")
    assert text != thinking
    assert text.__init__.__qualname__ == "TextDelta.__init__"


def test_an_event_class_defined_later_gets_its_init_too() -> None:
    @events.frozen_event
    class Probe(Event):
        kind = "probe_for_test"
        size: int
        label: str = "x"

    try:
        probe = Probe(run_id="r", size=3)
        assert (probe.size, probe.label, probe.agent_id) == (3, "x", None)
        assert Event.from_dict(probe.to_dict()) == probe
    finally:
        events._REGISTRY.pop("probe_for_test", None)
