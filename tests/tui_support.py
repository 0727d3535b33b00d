"""Helpers for the TUI tests: a quiet fake session, the sample app, live apps, waiting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.bus import EventBus
from core.config import Settings
from core.session import Session
from tui.app import DelegateApp
from tui.sample_run import SAMPLE_NOW, sample_events


class QuietSession:
    """Enough of Session for screens that only display: nothing runs, nothing is emitted."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.simulated = True
        self.finished = False
        self.settings = Settings()
        self.run_id = "quiet"

    def start(self, task: str | None = None) -> None:
        pass

    async def close(self, status: str = "cancelled") -> None:
        self.finished = True

    def pending_approvals(self) -> list[Any]:
        return []


def sample_app(tmp_path: Path | None = None) -> DelegateApp:
    """The synthetic mid-run app with a fixed clock (deterministic for snapshots)."""
    return DelegateApp(
        session=QuietSession(),  # type: ignore[arg-type]
        task="sample",
        prior_events=sample_events(),
        clock=lambda: SAMPLE_NOW,
        export_dir=tmp_path,
        autostart=False,
    )


def sim_settings(tmp_path: Path, **overrides: Any) -> Settings:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "simulate": True,
        "sim_tokens_per_s": 50000.0,
        "sim_latency_s": 0.0,
        "workspace": workspace,
        "db_path": tmp_path / "runs.db",
    }
    values.update(overrides)
    return Settings().with_overrides(**values)


def live_app(settings: Settings, task: str, **kwargs: Any) -> tuple[DelegateApp, Session]:
    session = Session(settings, interactive=True)
    app = DelegateApp(session=session, task=task, export_dir=settings.workspace, **kwargs)
    return app, session


def fill(app: DelegateApp, text: str) -> None:
    """Put `text` into the focused input of a modal at once (pressing each key is slow)."""
    from textual.widgets import Input

    focused = app.focused
    assert isinstance(focused, Input), f"no input has focus: {focused!r}"
    focused.insert_text_at_cursor(text)


async def wait_until(pilot: Any, cond: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Let the app run until `cond()` holds; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


def footer_keys(app: Any) -> dict[str, bool]:
    """The footer's keys by description: enabled (True) or dimmed (False)."""
    from textual.widgets._footer import FooterKey

    return {k.description: not k.has_class("-disabled") for k in app.screen.query(FooterKey)}
