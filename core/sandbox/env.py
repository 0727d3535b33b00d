"""The environment a command gets: an allow-list, never the app's whole environment.

The app's own environment holds the API key and whatever else the user exported
(`GITHUB_TOKEN`, cloud keys, `SSH_AUTH_SOCK`...). A command sees only these names, plus
the ones `[sandbox] env` lists; `HOME` points to a private folder inside the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BASE_NAMES = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ")
FIXED = {"PAGER": "cat", "GIT_PAGER": "cat"}
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def allowed_name(name: str, extra: Iterable[str] = ()) -> bool:
    return name in BASE_NAMES or name.startswith("LC_") or name in extra


def command_env(source: Mapping[str, str], extra: Iterable[str], home: str) -> dict[str, str]:
    """The allow-listed subset of `source`, with HOME and the pagers set."""
    names = set(extra)
    env = {k: v for k, v in source.items() if allowed_name(k, names)}
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOME"] = home
    for name, value in FIXED.items():
        if not (name in names and name in source):  # the config may pass its own pager
            env[name] = value
    return env
