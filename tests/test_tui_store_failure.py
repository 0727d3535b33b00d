"""The TUI when the run's events cannot be written (disk full): an error notification that
stays, a line in the CEO's column, and the run stopped as failed."""

from __future__ import annotations

from pathlib import Path

from core.store import Store
from tests.tui_support import live_app, sim_settings, wait_until


async def test_disk_full_shows_an_error_and_stops_the_run(tmp_path: Path) -> None:
    settings = sim_settings(
        tmp_path, scenario="load:agents=2,tps=40,seconds=30", sim_tokens_per_s=40.0
    )
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, "stream for a while", store=store)
    session.bus.subscribe(store.append)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(
                pilot, lambda: any(a.agent_id != "ceo" for a in app.view.agents.values())
            )
            await store.flush()
            await store._db.execute("PRAGMA max_page_count = 1")  # every new page: "full"
            await wait_until(pilot, lambda: session.finished, timeout=20)
            expected = f"cannot write the run's events: disk full ({settings.db_path})"
            assert app.store_failure == expected
            shown = [n for n in app._notifications if n.severity == "error"]
            assert shown and expected in shown[-1].message
            assert shown[-1].timeout >= 600  # stays until the operator has seen it
            assert session.status == "failed"
            await wait_until(pilot, lambda: app.view.status == "failed")
            await app.close_session()
    finally:
        await store.close()
