"""Unknown config keys are errors, in every section, with a "did you mean"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import CONFIG_SCHEMA, ConfigError, load_settings, parse_config
from tests.test_cli_conventions import _child
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("toml", "key", "hint"),
    [
        ("[limits]\nmax_concurent = 5\n", "limits.max_concurent", "did you mean max_concurrent?"),
        ("[ceo]\nmodle = 'x'\n", "ceo.modle", "did you mean model?"),
        ("[permissions]\nalow = ['ls']\n", "permissions.alow", "did you mean allow?"),
        ("[tools]\ncommand_timeout = 3\n", "tools.command_timeout", "command_timeout_s?"),
        ("[simulator]\ntokens_per_sec = 9\n", "simulator.tokens_per_sec", "tokens_per_s?"),
        ("[api]\nbaseurl = 'http://x'\n", "api.baseurl", "did you mean base_url?"),
        ("[roles.coding]\ntimout_s = 5\n", "roles.coding.timout_s", "did you mean timeout_s?"),
        (
            "[roles.reviewer]\nmodel = 'm'\ntools = []\npromt = 'x'\n",
            "roles.reviewer.promt",
            "did you mean prompt?",
        ),
        (
            "[models.claude-haiku-5-5]\ninptu = 1.0\n",
            "models.claude-haiku-5-5.inptu",
            "did you mean input?",
        ),
        ("[limit]\nmax_concurrent = 5\n", "limit", "did you mean limits?"),
        ("max_concurrent = 5\n", "max_concurrent", "did you mean [limits] max_concurrent?"),
        ("[keys]\nkil = 'K'\n", "keys.kil", "did you mean agent.kill?"),
        ("[keys]\nback = 'b'\n", "keys.back", "transcript.back or history.back"),
    ],
)
def test_a_typo_names_the_file_and_the_key(
    toml: str, key: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    db = tmp_path / "x.db"
    for command in (["run", "x", "--simulate"], ["history"]):
        assert main([*command, "--config", str(config), "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"delegate: config: {config}: {key}: "), err
        assert hint in err, err
    assert not db.exists()


def test_a_typo_through_the_entry_point(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[limits]\nmax_concurent = 5\n")
    done = _child("history", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"delegate: config: {config}: limits.max_concurent: unknown key"
        " (did you mean max_concurrent?)\n"
    )


def test_far_off_names_list_what_is_known() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"permissions": {"zzz": 1}})
    assert str(err.value) == "config: permissions.zzz: unknown key (known: allow, deny, mode)"


def test_every_key_of_the_readme_example_is_known(tmp_path: Path) -> None:
    """The Configuration section's example is a valid file (so the schema covers it)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example is not None
    config = tmp_path / "config.toml"
    config.write_text(example.group(1))
    settings = load_settings(config, explicit=True)
    assert settings.config_path == config
    assert settings.roles["reviewer"].model == "claude-sonnet-5-5"


def test_the_schema_knows_every_section_the_parser_reads() -> None:
    """Each schema entry is accepted (no false alarms) and a neighbour typo is not."""
    for section, keys in CONFIG_SCHEMA.items():
        if not isinstance(keys, frozenset):
            continue
        for key in keys:
            try:
                parse_config({section: {key: object()}})
            except ConfigError as exc:
                assert "unknown" not in exc.problem, (section, key, exc)
        with pytest.raises(ConfigError, match="unknown key"):
            parse_config({section: {"surely_not_a_key": 1}})


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"input": -1}, "claude-haiku-5-5.input is a price"),
        ({"output": float("nan")}, "claude-haiku-5-5.output is a price"),
        ({"context_window": 0}, "claude-haiku-5-5.context_window must be a whole number"),
        ({"min_cache_tokens": 2.5}, "claude-haiku-5-5.min_cache_tokens must be a whole number"),
    ],
)
def test_a_negative_price_or_window_is_an_error(spec: dict[str, float], words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        parse_config({"models": {"claude-haiku-5-5": spec}})
    assert parse_config({"models": {"claude-haiku-5-5": {"input": 0}}})  # free is a price
