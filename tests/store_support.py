"""Helpers for tests that read runs back: a database written with the store's own writer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.events import Event
from core.store import Store


async def record(db: Path, *runs: Iterable[Event]) -> None:
    """Append each run's events to the database at `db` (made if missing), then close it,
    so every event is on disk when this returns."""
    store = await Store.open(db)
    try:
        for events in runs:
            for event in events:
                store.append(event)
    finally:
        await store.close()
