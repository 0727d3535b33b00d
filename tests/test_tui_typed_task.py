"""A run started without a task takes the first message typed into the box as its task:
the header shows it and history lists it (not "(no task)")."""

from __future__ import annotations

from pathlib import Path

from tests.tui_support import fill, live_app, sim_settings, wait_until
from tui.widgets.run_header import RunHeader


async def test_typed_first_message_becomes_the_run_task(tmp_path: Path) -> None:
    from core.store import Store

    settings = sim_settings(tmp_path)
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, "", store=store)
    session.bus.subscribe(store.append)
    typed = "Write a blog post about remote work"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "chat-input")
        assert app.view.task == ""
        fill(app, typed)
        await pilot.press("enter")
        await wait_until(pilot, lambda: session.answered, timeout=30)
        assert app.view.task == typed
        header = app.screen.query_one(RunHeader)
        await wait_until(pilot, lambda: typed in str(header.content))
        await app.close_session()
    await store.flush()
    rows = await store.list_runs()
    assert [r.task for r in rows] == [typed]
    assert session.supervisor.records["writer-1"].task.startswith("Write the blog post about")
    await store.close()
