"""Key bindings remapped from the config's [keys] by binding id (Textual's keymap)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from textual.binding import Binding

import tui
from core.config import ConfigError, load_settings
from tests.tui_support import live_app, sim_settings, wait_until
from tui.keymap import BINDING_IDS, keymap_from
from tui.launch import keymap
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.run import RunScreen
from tui.widgets.agent_board import AgentBoard

SLOW = "load:agents=2,tps=2,seconds=600"


def _all_bindings() -> list[tuple[str, Binding]]:
    found = []
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == info.name:
                for b in obj.__dict__.get("BINDINGS", []):
                    if isinstance(b, Binding):
                        found.append((f"{obj.__name__}", b))
    return found


def test_every_binding_has_an_id_and_the_list_is_complete() -> None:
    bindings = _all_bindings()
    assert len(bindings) >= 30
    missing = [(cls, b.key) for cls, b in bindings if not b.id]
    assert missing == []
    ids = [b.id for _, b in bindings]
    assert len(ids) == len(set(ids))  # one id, one binding
    assert set(ids) == set(BINDING_IDS)
    defaults = {b.id: b.key for _, b in bindings}
    assert defaults == {i: keys for i, (keys, _) in BINDING_IDS.items()}


def test_readme_lists_every_binding_id() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for binding_id in BINDING_IDS:
        assert f"`{binding_id}`" in readme, binding_id


def test_config_keys_by_id_short_name_or_dotted_table(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[keys]\nkill = "K"\n"app.help" = "f2"\nagent.retry = "R, ctrl+r"\n')
    settings = load_settings(config, explicit=True)
    assert keymap(settings) == {"agent.kill": "K", "app.help": "f2", "agent.retry": "R,ctrl+r"}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((("kil", "K"),), "keys.kil: unknown binding id (did you mean agent.kill?)"),
        ((("agent.kil", "K"),), "keys.agent.kil: unknown binding id (did you mean agent.kill?)"),
        ((("cancel", "z"),), "it could be steer.cancel or retry.cancel"),
        ((("zzzzzz", "z"),), "the ids are listed in the README"),
    ],
)
def test_unknown_binding_ids(pairs: tuple[tuple[str, str], ...], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        keymap_from(pairs, "c.toml")
    assert str(err.value).startswith("config: c.toml: keys.")
    assert message in str(err.value)


async def test_a_remapped_key_acts_and_the_old_one_does_not(tmp_path: Path) -> None:
    remap = {"agent.kill": "K", "confirm.no": "m", "app.help": "f2"}
    app, _ = live_app(sim_settings(tmp_path, scenario=SLOW), "load", keymap=remap)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(
            pilot, lambda: sum(a.state == "running" for a in app.view.agents.values()) >= 2
        )
        screen = app.screen
        assert isinstance(screen, RunScreen)
        board = screen.query_one(AgentBoard)
        await wait_until(pilot, lambda: len(board.panes) == 2)
        next(iter(board.panes.values())).focus()
        await pilot.pause()
        target = screen.selected
        assert target is not None
        await pilot.press("x")  # the old key: nothing
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("K")  # the new one asks
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # "no" moved to m: n does nothing
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("m")
        assert app.screen is screen
        assert app.view.agents[target].state == "running"
        await pilot.press("K", "y")
        await wait_until(pilot, lambda: app.view.agents[target].state == "killed")
        await pilot.press("f1")  # f1 was one of help's two keys; the remap replaced both
        assert app.screen is screen
        await pilot.press("f2")
        assert isinstance(app.screen, HelpScreen)
        assert "agent.kill" in str(app.screen.query_one("Markdown").source)  # type: ignore[attr-defined]
        await app.close_session()


async def test_the_demo_notice_is_in_the_chat(tmp_path: Path) -> None:
    notice = f"Demo workspace: {tmp_path} (the agents' files are there)."
    app, _ = live_app(sim_settings(tmp_path), "write a haiku", start_notice=notice)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: any(i.text == notice for i in app.view.chat))
        await app.close_session()


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        ((("kill", "q"),), "keys.agent.kill: 'q' is already the key of app.quit"),
        ((("transcript.export", "q"),), "'q' is already the key of transcript.back"),
        ((("kill", "not-a-key!"),), "is not a key name"),
    ],
)
def test_a_remap_onto_a_taken_key_or_a_bad_name_is_an_error(
    pairs: tuple[tuple[str, str], ...], words: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        keymap_from(pairs)


def test_a_swap_and_other_screens_keys_are_fine() -> None:
    swap = (("quit", "x"), ("kill", "q"))  # both moved: no binding loses its key
    assert keymap_from(swap) == {"app.quit": "x", "agent.kill": "q"}
    assert keymap_from((("dashboard.scorecard", "e"),))  # 'e' is the transcript's, elsewhere
