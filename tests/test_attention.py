"""Attention: toasts, the terminal bell and desktop notifications (OSC 9 / OSC 777)
when an approval waits, the CEO waits for the operator, an agent stalls or the run ends;
`[notify]` in the config chooses which ring."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError, NotifySettings, parse_config
from core.events import AgentStalled, ApprovalRequested, CeoWaiting, RunFinished
from tests.tui_support import QuietSession, wait_until
from tui.app import DelegateApp
from tui.attention import Alert, Attention, desktop_protocol, sequence

R = "run-1"


def approval(agent_id: str = "coding-1", command: str = "make deploy") -> ApprovalRequested:
    return ApprovalRequested(
        run_id=R, agent_id=agent_id, request_id="a1", tool="run_command", command=command, cwd="/w"
    )


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({"TERM_PROGRAM": "iTerm.app", "TERM": "xterm-256color"}, "osc9"),
        ({"TERM_PROGRAM": "WezTerm"}, "osc9"),
        ({"TERM": "xterm-kitty"}, "osc9"),
        ({"TERM": "foot"}, "osc9"),
        ({"TERM": "xterm-ghostty"}, "osc9"),
        ({"TERM": "rxvt-unicode-256color"}, "osc777"),
        ({"TERM": "xterm-256color", "KONSOLE_VERSION": "230401"}, "osc777"),
        ({"TERM": "xterm-256color", "VTE_VERSION": "7600"}, "osc777"),
        ({"TERM": "xterm-256color"}, None),
        ({}, None),
    ],
)
def test_the_terminal_decides_the_sequence(env: dict[str, str], protocol: str | None) -> None:
    assert desktop_protocol(env) == protocol


def test_sequences_are_one_clean_line() -> None:
    assert sequence("osc9", "delegate", "hi") == "\x1b]9;delegate: hi\x07"
    assert sequence("osc777", "a;b", "x\x07y\nz") == "\x1b]777;notify;a,b;x y z\x07"
    assert sequence("none", "t", "m") == ""


def test_config_notify_section_and_its_typos() -> None:
    assert parse_config({}).notify == NotifySettings()
    s = parse_config({"notify": {"events": ["stalled"], "bell": False, "desktop": "osc777"}})
    assert s.notify == NotifySettings(events=("stalled",), bell=False, desktop="osc777")
    assert parse_config({"notify": {"desktop": False}}).notify.desktop == "off"
    with pytest.raises(ConfigError, match=r"notify\.evnts: unknown key \(did you mean events\?\)"):
        parse_config({"notify": {"evnts": ["approval"]}})
    with pytest.raises(ConfigError, match=r"unknown event 'aproval' \(did you mean approval\?\)"):
        parse_config({"notify": {"events": ["aproval"]}})
    with pytest.raises(ConfigError, match=r"notify\.desktop: unknown 'osc8' \(did you mean"):
        parse_config({"notify": {"desktop": "osc8"}})
    with pytest.raises(ConfigError, match=r"unknown section \(did you mean notify\?\)"):
        parse_config({"notfy": {}})


def test_listed_events_ring_once_per_burst_others_only_toast() -> None:
    now = [100.0]
    written: list[str] = []
    toasts: list[Alert] = []
    attention = Attention(
        NotifySettings(),  # default: approval, waiting, finished
        write=written.append,
        toast=toasts.append,
        env={"TERM_PROGRAM": "WezTerm"},
        clock=lambda: now[0],
    )
    attention.observe(approval())
    assert written == [
        "\a\x1b]9;delegate: Approval needed: coding-1 asks to run: make deploy "
        "(a approve · d deny)\x07"
    ]
    attention.observe(approval("coding-2"))  # the same burst: a toast, no second ring
    assert len(written) == 1 and len(toasts) == 2
    now[0] += 5
    attention.observe(AgentStalled(run_id=R, agent_id="coding-1", stalled=True, idle_s=61.0))
    assert len(written) == 1  # not listed by default: a toast only
    assert toasts[-1].message == "coding-1: no output for 61 s"
    attention.observe(CeoWaiting(run_id=R, agent_id="ceo", answered=True))
    assert written[-1].startswith("\a\x1b]9;delegate: The CEO waits for you")
    now[0] += 5
    attention.observe(RunFinished(run_id=R, status="done", result="ok", cost_usd=0.1))
    assert written[-1] == "\a\x1b]9;delegate: Run ended: run run-1: done\x07"
    assert [a.kind for a in toasts] == ["approval", "approval", "stalled", "waiting", "finished"]


def test_bell_only_where_no_desktop_sequence_is_known() -> None:
    written: list[str] = []
    quiet = Attention(
        NotifySettings(desktop="auto"), write=written.append, toast=lambda a: None, env={}
    )
    quiet.observe(approval())
    assert written == ["\a"]
    off: list[str] = []
    Attention(
        NotifySettings(bell=False, desktop="off"), write=off.append, toast=lambda a: None
    ).observe(approval())
    assert off == []


async def test_the_app_writes_through_its_driver_and_toasts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM_PROGRAM", "ghostty")
    session = QuietSession()
    app = DelegateApp(session=session, task="t", autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app._driver is not None
        written: list[str] = []
        monkeypatch.setattr(app._driver, "write", written.append)
        session.bus.publish(approval(command="rm -rf build"))
        await pilot.pause()
        assert written == [
            "\a\x1b]9;delegate: Approval needed: coding-1 asks to run: rm -rf build "
            "(a approve · d deny)\x07"
        ]
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("Approval needed", "coding-1 asks to run: rm -rf build (a approve · d deny)") in (
            toasts
        )
        app.session_closed = True  # the operator quit: the run's end rings no bell
        session.bus.publish(RunFinished(run_id=R, status="stopped", result="", cost_usd=0.0))
        await pilot.pause()
        assert len(written) == 1


async def test_the_approval_hints_follow_the_keymap_and_the_screen(tmp_path: Path) -> None:
    """Remapped in `[keys]`, the toast, the desktop line and the inbox name the keys that
    answer; over another screen (the help) the toast says where to answer instead."""
    from tui.keymap import default_key
    from tui.widgets.approvals import ApprovalInbox

    assert default_key("app.dashboard") == "$" and default_key("view.switch") == "^t"
    assert default_key("approval.once", {"approval.once": "o,f2"}) == "o"
    session = QuietSession()
    app = DelegateApp(
        session=session,  # type: ignore[arg-type]
        task="t",
        autostart=False,
        export_dir=tmp_path,
        keymap={"approval.once": "o", "approval.always": "O", "app.quit": "ctrl+q"},
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        session.bus.publish(approval(command="make deploy"))
        await wait_until(pilot, lambda: app._notifications)
        [toast] = [n.message for n in app._notifications]
        assert toast == "coding-1 asks to run: make deploy (o approve · d deny)"
        assert app.main_screen is not None
        assert app.main_screen.answered_placeholder() == "Reply, or esc then ^q to finish"
        inbox = app.screen.query_one(ApprovalInbox)
        await wait_until(pilot, lambda: inbox.count == 1)
        title = str(inbox.border_title)
        assert "o approve once" in title and "a approve" not in title, title
        await pilot.press("f1")  # the help: a/d do nothing there
        await wait_until(pilot, lambda: app.screen is not app.main_screen)
        # The toast already up says so too (a new one, for the rest of its time).
        await wait_until(
            pilot,
            lambda: (
                [n.message for n in app._notifications]
                == ["coding-1 asks to run: make deploy (answer it on the run screen)"]
            ),
        )
        session.bus.publish(
            ApprovalRequested(run_id=R, agent_id="coding-2", request_id="a2",
                              tool="run_command", command="make test", cwd="/w")
        )  # fmt: skip
        await wait_until(pilot, lambda: len(app._notifications) == 2)
        latest = [n.message for n in app._notifications][-1]
        assert latest == "coding-2 asks to run: make test (answer it on the run screen)"
        await pilot.press("escape")  # back on the run: both name their keys again
        await wait_until(pilot, lambda: app.screen is app.main_screen)
        await wait_until(
            pilot,
            lambda: (
                sorted(n.message for n in app._notifications)
                == [
                    "coding-1 asks to run: make deploy (o approve · d deny)",
                    "coding-2 asks to run: make test (o approve · d deny)",
                ]
            ),
        )
