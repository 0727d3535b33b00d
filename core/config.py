"""Settings: defaults, then the TOML file, then the environment, then CLI flags.

Every problem is a ConfigError naming the key and what is wrong, so the CLI can
print one line and exit 2.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from core.catalog import Catalog
from core.errors import DelegateError
from core.sandbox.settings import SANDBOX_MODES, SandboxSettings
from core.tools.netfence import allow_entry_problem

PermissionMode = Literal["ask", "allow", "deny"]

READ_TOOLS = ["read_file", "list_files", "search_files"]


def worker_tool_names() -> frozenset[str]:
    """The worker tools' names, as the registry (core.tools.registry) defines them;
    imported only when a config names tools (it costs ~0.1 s of start-up)."""
    from core.tools.registry import WORKER_TOOL_CLASSES

    return frozenset(WORKER_TOOL_CLASSES)


ROLE_PROMPTS: dict[str, str] = {
    "coding": (
        "You are a coding sub-agent. Write working code in the workspace with your file "
        "tools, run it or its tests with run_command, and fix what fails. Keep changes small "
        "and focused on the task. When done, reply with a short report: files changed, "
        "commands run and their result, anything left open."
    ),
    "research": (
        "You are a research sub-agent. Gather facts from the workspace and with web_fetch, "
        "note where each fact came from, and say plainly what you could not confirm. "
        "Reply with a concise, sourced summary."
    ),
    "writer": (
        "You are a writing sub-agent. Write clear, concrete prose into the files the task "
        "names, in the tone it asks for. Reply with the files written and a two-line summary."
    ),
    "analysis": (
        "You are an analysis sub-agent. Read the material, run commands to measure rather "
        "than guess, and reply with findings ranked by importance, each with its evidence."
    ),
    "data": (
        "You are a data sub-agent. Transform, clean or generate data files as asked, check "
        "the result with run_command, and reply with what you produced and its shape."
    ),
}
GENERIC_ROLE_PROMPT = (
    "You are a sub-agent working on one task for a lead agent. Use your tools, check your "
    "work, and reply with a short report of what you did and what is left."
)
COMMON_SUFFIX = (
    " You work inside the workspace directory; paths are relative to it. You see only your "
    "task, not the lead's conversation. If you receive a message from the lead mid-task, "
    "follow it. If told to wrap up, stop and report what you have."
)


DEFAULT_RUN_BUDGET_USD = 5.0  # a runaway is bounded even when the user set nothing
DEFAULT_MAX_TURNS = 100  # per sub-agent attempt, and for the CEO per operator message
DEFAULT_MAX_AGENTS = 200
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_PARALLEL_TOOLS = 8
DEFAULT_REPEAT_LIMIT = 4
DEFAULT_STALL_AFTER_S = 120.0


@dataclass(frozen=True)
class RoleSpec:
    name: str
    model: str
    timeout_s: float | None
    tools: tuple[str, ...]
    prompt: str
    max_tokens: int = 8192
    token_budget: int | None = None
    budget_usd: float | None = None  # per attempt; None: only the run's budget applies
    max_turns: int = DEFAULT_MAX_TURNS  # model turns per attempt
    network: bool | None = None  # None: `[sandbox] network` decides

    @property
    def system_prompt(self) -> str:
        return self.prompt + COMMON_SUFFIX


def _role(name: str, model: str, minutes: float | None, tools: list[str]) -> RoleSpec:
    return RoleSpec(
        name=name,
        model=model,
        timeout_s=minutes * 60 if minutes is not None else None,
        tools=tuple(tools),
        prompt=ROLE_PROMPTS.get(name, GENERIC_ROLE_PROMPT),
    )


DEFAULT_ROLES: dict[str, RoleSpec] = {
    "coding": _role(
        "coding", "claude-haiku-5-5", 15, [*READ_TOOLS, "write_file", "edit_file", "run_command"]
    ),
    "research": _role("research", "claude-haiku-5-5", 5, [*READ_TOOLS, "web_fetch"]),
    "writer": _role("writer", "claude-sonnet-5-5", 3, [*READ_TOOLS, "write_file"]),
    "analysis": _role("analysis", "claude-opus-5-5", 10, [*READ_TOOLS, "run_command"]),
    "data": _role("data", "claude-haiku-5-5", 5, [*READ_TOOLS, "write_file", "run_command"]),
}

# Commands that run without asking. A prefix matches whole words only, and never a
# command that chains, pipes or substitutes (see tools.policy). Inside the sandbox they
# can only touch the workspace. Without it the policy narrows the list: with the sandbox
# off, a prefix never allows a command that runs workspace code (tests, python, git,
# make, npm...) or names a path outside the workspace; where no sandbox could start, no
# prefix allows anything and every command asks.
DEFAULT_ALLOW = [
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "grep",
    "find",
    "pwd",
    "echo",
    "sort",
    "uniq",
    "diff",
    "stat",
    "du",
    "file",
    "which",
    "git status",
    "git diff",
    "git log",
    "git show",
    "git branch",
    "git ls-files",
    "python -m pytest",
    "python3 -m pytest",
    "pytest",
    "python -m py_compile",
    "python3 -m py_compile",
    "python -m unittest",
    "python3 -m unittest",
    "make test",
    "npm test",
]


RunnerKind = Literal["local", "temporal"]

# [notify]: what calls the operator back (the TUI's bell and desktop notification).
NOTIFY_EVENTS = ("approval", "waiting", "stalled", "finished")
NOTIFY_DESKTOP = ("auto", "osc9", "osc777", "off")


@dataclass(frozen=True)
class NotifySettings:
    """`events`: which get the terminal bell and a desktop notification (a toast shows
    for every one of NOTIFY_EVENTS); `desktop`: the escape sequence, "auto" by terminal."""

    events: tuple[str, ...] = ("approval", "waiting", "finished")
    bell: bool = True
    desktop: str = "auto"


class ConfigError(DelegateError):
    """A setting is wrong. `str()` is the one line shown to the user."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config: {key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Settings:
    ceo_model: str = "claude-opus-5-5"
    ceo_max_tokens: int = 16384
    roles: dict[str, RoleSpec] = field(default_factory=lambda: dict(DEFAULT_ROLES))
    ceo_max_turns: int = DEFAULT_MAX_TURNS  # per operator message
    max_concurrent: int = 5
    budget_usd: float | None = DEFAULT_RUN_BUDGET_USD  # the whole run; None: no cap
    max_agents: int = DEFAULT_MAX_AGENTS  # agents per run
    max_retries: int = DEFAULT_MAX_RETRIES  # retry_agent calls per agent by the CEO
    max_parallel_tools: int = DEFAULT_MAX_PARALLEL_TOOLS  # tool calls of one reply at once
    repeat_limit: int = DEFAULT_REPEAT_LIMIT  # same call N times: a tool error; 2N: stopped
    stall_after_s: float | None = DEFAULT_STALL_AFTER_S  # no output this long: "stalled"
    permission_mode: PermissionMode = "ask"
    allow_commands: tuple[str, ...] = tuple(DEFAULT_ALLOW)
    deny_commands: tuple[str, ...] = ()
    assume_yes: bool = False
    workspace: Path = field(default_factory=Path.cwd)
    db_path: Path | None = None
    simulate: bool | None = None  # None: simulate when there is no API key
    scenario: str = "default"
    sim_tokens_per_s: float = 400.0
    sim_latency_s: float = 0.15  # before each simulated reply's first token
    api_base_url: str | None = None
    turn_retries: int = 3
    retry_base_delay_s: float = 1.0
    command_timeout_s: float = 120.0
    output_cap_bytes: int = 64_000
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_s: float = 20.0
    # [tools.web_fetch]: loopback/private addresses are refused unless allowed here.
    fetch_allow_private: bool = False
    fetch_allow_hosts: tuple[str, ...] = ()
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    # [runner]: where sub-agents run. "local": tasks in this process; "temporal":
    # workflows on Temporal (core.temporal), at `temporal_address` (HOST:PORT) or, with
    # none, on a dev server this process starts.
    runner: RunnerKind = "local"
    temporal_address: str | None = None
    workspace_queue: str | None = None  # the workspace's name for workers (default: its folder)
    events_host: str = "127.0.0.1"  # where workers reach this session's event hub
    catalog: Catalog = field(default_factory=Catalog)
    keymap: tuple[tuple[str, str], ...] = ()  # [keys]: (binding id, keys), checked by the TUI
    notify: NotifySettings = field(default_factory=NotifySettings)
    config_path: Path | None = None  # the file these settings were read from, if any

    def role(self, name: str) -> RoleSpec:
        return self.roles[name]

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("delegate")) / "config.toml"


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("delegate")) / "delegate.db"


def _expect(key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if (
        isinstance(value, bool)
        and kind is not bool
        and bool not in (kind if isinstance(kind, tuple) else (kind,))
    ):
        raise ConfigError(key, f"must be {what}, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(key, f"must be {what}, got {value!r}")
    return value


def _positive(key: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None or (allow_none and value in ("none", 0)):
        if allow_none:
            return None
        raise ConfigError(key, "is required")
    _expect(key, value, (int, float), "a number")
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if value <= 0:
        raise ConfigError(key, f"must be positive, got {value!r}")
    return float(value)


def _notify(table: dict[str, Any]) -> NotifySettings:
    out = NotifySettings()
    if "events" in table:
        events = _str_list("notify.events", table["events"])
        for name in events:
            if name not in NOTIFY_EVENTS:
                raise ConfigError(
                    "notify.events", f"unknown event {name!r}" + did_you_mean(name, NOTIFY_EVENTS)
                )
        out = replace(out, events=events)
    if "bell" in table:
        out = replace(out, bell=_expect("notify.bell", table["bell"], bool, "true or false"))
    if "desktop" in table:
        desktop = table["desktop"]
        if desktop is False:
            desktop = "off"
        _expect("notify.desktop", desktop, str, " or ".join(f'"{d}"' for d in NOTIFY_DESKTOP))
        if desktop not in NOTIFY_DESKTOP:
            raise ConfigError(
                "notify.desktop", f"unknown {desktop!r}" + did_you_mean(desktop, NOTIFY_DESKTOP)
            )
        out = replace(out, desktop=desktop)
    return out


def _whole(key: str, value: Any, minimum: int) -> int:
    n = _expect(key, value, int, "a whole number")
    if n < minimum:
        raise ConfigError(key, f"must be at least {minimum}, got {n}")
    return int(n)


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    _expect(key, value, list, "a list of strings")
    for item in value:
        _expect(key, item, str, "a list of strings")
    return tuple(value)


_LIMIT_KEYS = {
    "max_concurrent",
    "turn_retries",
    "max_retries",
    "max_agents",
    "max_parallel_tools",
    "repeat_limit",
    "budget_usd",
    "stall_after_s",
}
# Every key a config file may hold, per section: a set of leaf names, or a dict for
# sections with sub-tables. ANY matches any name (a role, a model id); None means the
# section's contents are checked elsewhere (`[keys]`: binding ids, by tui.keymap).
# A key not listed is an error with a "did you mean": add new keys here.
ANY = "*"
ROLE_KEYS = frozenset(
    {
        "model",
        "timeout_s",
        "tools",
        "prompt",
        "max_tokens",
        "token_budget",
        "budget_usd",
        "max_turns",
        "network",
    }
)
MODEL_KEYS = frozenset(
    {
        "input",
        "output",
        "cache_write_5m",
        "cache_write_1h",
        "cache_read",
        "context_window",
        "min_cache_tokens",
    }
)
Schema = dict[str, "Schema | frozenset[str] | None"]
CONFIG_SCHEMA: Schema = {
    "ceo": frozenset({"model", "max_tokens", "max_turns"}),
    "limits": frozenset(_LIMIT_KEYS),
    "permissions": frozenset({"mode", "allow", "deny"}),
    "tools": {
        "command_timeout_s": None,
        "fetch_timeout_s": None,
        "output_cap_bytes": None,
        "fetch_max_bytes": None,
        "web_fetch": frozenset({"allow_private", "allow_hosts"}),
    },
    "simulator": frozenset({"scenario", "tokens_per_s", "latency_s"}),
    "api": frozenset({"base_url"}),
    "models": {ANY: MODEL_KEYS},
    "roles": {ANY: ROLE_KEYS},
    "sandbox": frozenset(
        {"mode", "bwrap", "env", "network"}
        | {"max_processes", "max_file_mb", "max_memory_mb", "tmp_mb"}
    ),
    "runner": frozenset({"kind", "temporal", "workspace_queue", "events_host"}),
    "keys": None,
    "notify": frozenset({"events", "bell", "desktop"}),
}
RUNNER_KINDS = ("local", "temporal")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean x?)' for the closest known name, or the known names when few."""
    import difflib  # only for a typo

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (known: {', '.join(known)})" if len(known) <= 12 else ""


def check_keys(data: dict[str, Any], schema: Schema | None = None, prefix: str = "") -> None:
    """Raise ConfigError for the first key that `schema` does not know."""
    schema = CONFIG_SCHEMA if schema is None else schema
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in schema and ANY not in schema:
            if not prefix and not isinstance(value, dict):
                home = [
                    s
                    for s, sub in schema.items()
                    if isinstance(sub, frozenset | dict) and key in sub and key != ANY
                ]
                if home:
                    raise ConfigError(
                        path, f"belongs in a section (did you mean [{home[0]}] {key}?)"
                    )
            what = "unknown section" if not prefix else "unknown key"
            raise ConfigError(path, what + did_you_mean(key, schema))
        sub = schema[key] if key in schema else schema[ANY]
        if sub is None or not isinstance(value, dict):
            continue  # a value of the wrong type is reported by parse_config
        if isinstance(sub, frozenset):
            for leaf in value:
                if leaf not in sub:
                    raise ConfigError(f"{path}.{leaf}", "unknown key" + did_you_mean(leaf, sub))
        else:
            check_keys(value, sub, f"{path}.")


def _flat_keys(table: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """`[keys]` pairs; `agent.kill = "K"` (a dotted key, so a sub-table) is id "agent.kill"."""
    out: list[tuple[str, str]] = []
    for name, value in table.items():
        key = f"{path}.{name}"
        if isinstance(value, dict):
            out.extend((f"{name}.{i}", k) for i, k in _flat_keys(value, key))
            continue
        _expect(key, value, str, 'keys like "x", "ctrl+k" or "f5,x"')
        if not value.strip() or any(not part.strip() for part in value.split(",")):
            raise ConfigError(key, f"must name a key, got {value!r}")
        out.append((name, value.replace(" ", "")))
    return out


_SANDBOX_LIMITS = ("max_processes", "max_file_mb", "max_memory_mb", "tmp_mb")


def _sandbox(table: dict[str, Any], base: SandboxSettings) -> SandboxSettings:
    known = {"mode", "bwrap", "env", "network", *_SANDBOX_LIMITS}
    for key in table:
        if key not in known:
            raise ConfigError(f"sandbox.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    changes: dict[str, Any] = {}
    if "mode" in table:
        mode = table["mode"]
        if mode not in SANDBOX_MODES:
            raise ConfigError("sandbox.mode", f"must be auto, required or off, got {mode!r}")
        changes["mode"] = mode
    if "bwrap" in table:
        changes["bwrap"] = _expect("sandbox.bwrap", table["bwrap"], str, "a path")
    if "env" in table:
        names = _str_list("sandbox.env", table["env"])
        bad = [n for n in names if not n or "=" in n]
        if bad:
            raise ConfigError("sandbox.env", f"not a variable name: {bad[0]!r}")
        changes["env"] = names
    if "network" in table:
        changes["network"] = _expect("sandbox.network", table["network"], bool, "true or false")
    for name in _SANDBOX_LIMITS:
        if name in table:
            value = _expect(f"sandbox.{name}", table[name], int, "a whole number")
            if value < 1:
                raise ConfigError(f"sandbox.{name}", f"must be at least 1, got {value}")
            changes[name] = value
    return replace(base, **changes)


def _runner(table: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "kind" in table:
        kind = table["kind"]
        if kind not in RUNNER_KINDS:
            raise ConfigError(
                "runner.kind",
                f"must be local or temporal, got {kind!r}" + did_you_mean(str(kind), RUNNER_KINDS),
            )
        changes["runner"] = kind
    if "temporal" in table:
        address = _expect("runner.temporal", table["temporal"], str, "HOST:PORT")
        problem = address_problem(address)
        if problem:
            raise ConfigError("runner.temporal", problem)
        changes["temporal_address"] = address
    if "workspace_queue" in table:
        name = _expect("runner.workspace_queue", table["workspace_queue"], str, "a name")
        if not name.strip():
            raise ConfigError("runner.workspace_queue", "must not be empty")
        changes["workspace_queue"] = name.strip()
    if "events_host" in table:
        changes["events_host"] = _expect(
            "runner.events_host", table["events_host"], str, "a host name or address"
        )
    return changes


def address_problem(address: str) -> str:
    """'' for a HOST:PORT, else what is wrong with it (one line)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"must be HOST:PORT (like localhost:7233), got {address!r}"
    return ""


# How a value is read: `reader(key path, value)` returns it as the setting holds it, or
# raises ConfigError naming the key path and the problem.
Reader = Callable[[str, Any], Any]


def _text(what: str) -> Reader:
    return lambda key, value: _expect(key, value, str, what)


def _count(key: str, value: Any) -> int:
    return int(_positive(key, value) or 0)


def _at_least(minimum: int) -> Reader:
    return lambda key, value: _whole(key, value, minimum)


def _zero_or_more(key: str, value: Any) -> int:
    n = _expect(key, value, int, "a whole number")
    if n < 0:
        raise ConfigError(key, "must be 0 or more")
    return int(n)


def _off_or_positive(key: str, value: Any) -> float | None:
    return _positive(key, value, allow_none=True)  # 0 or "none" turns it off


def _flag(key: str, value: Any) -> bool:
    return bool(_expect(key, value, bool, "true or false"))


def _mode(key: str, value: Any) -> str:
    if value not in ("ask", "allow", "deny"):
        raise ConfigError(key, f"must be ask, allow or deny, got {value!r}")
    return str(value)


def _hosts(key: str, value: Any) -> tuple[str, ...]:
    hosts = _str_list(key, value)
    for host in hosts:
        problem = allow_entry_problem(host)
        if problem:
            raise ConfigError(key, problem)
    return hosts


def _latency(key: str, value: Any) -> float:
    latency = _expect(key, value, (int, float), "a number")
    if latency < 0:
        raise ConfigError(key, f"must be 0 or more, got {latency!r}")
    return float(latency)


def _tools(key: str, value: Any) -> tuple[str, ...]:
    names = _str_list(key, value)
    known = worker_tool_names()
    unknown = [t for t in names if t not in known]
    if unknown:
        raise ConfigError(key, f"unknown tool {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return names


# The plain settings, declared once: (table, key, Settings field, reader), in the order
# they are checked. Which keys a table may hold at all is `KEYS` (check_keys); the
# sections with their own structure ([sandbox], [runner], [models], [notify], [keys],
# [roles]) are read by their functions below.
FIELDS: tuple[tuple[str, str, str, Reader], ...] = (
    ("ceo", "model", "ceo_model", _text("a model id")),
    ("ceo", "max_tokens", "ceo_max_tokens", _count),
    ("ceo", "max_turns", "ceo_max_turns", _at_least(1)),
    ("limits", "max_concurrent", "max_concurrent", _at_least(1)),
    ("limits", "turn_retries", "turn_retries", _zero_or_more),
    ("limits", "max_retries", "max_retries", _zero_or_more),
    ("limits", "max_agents", "max_agents", _at_least(1)),
    ("limits", "max_parallel_tools", "max_parallel_tools", _at_least(1)),
    ("limits", "repeat_limit", "repeat_limit", _at_least(1)),
    ("limits", "budget_usd", "budget_usd", _off_or_positive),
    ("limits", "stall_after_s", "stall_after_s", _off_or_positive),
    ("permissions", "mode", "permission_mode", _mode),
    ("permissions", "allow", "allow_commands", _str_list),
    ("permissions", "deny", "deny_commands", _str_list),
    ("tools", "command_timeout_s", "command_timeout_s", _positive),
    ("tools", "fetch_timeout_s", "fetch_timeout_s", _positive),
    ("tools", "output_cap_bytes", "output_cap_bytes", _count),
    ("tools", "fetch_max_bytes", "fetch_max_bytes", _count),
    ("tools.web_fetch", "allow_private", "fetch_allow_private", _flag),
    ("tools.web_fetch", "allow_hosts", "fetch_allow_hosts", _hosts),
    ("simulator", "tokens_per_s", "sim_tokens_per_s", _positive),
    ("simulator", "latency_s", "sim_latency_s", _latency),
    ("simulator", "scenario", "scenario", _text("a name")),
    ("api", "base_url", "api_base_url", _text("a URL")),
)
# A role's settings: (key, RoleSpec field, reader).
ROLE_FIELDS: tuple[tuple[str, str, Reader], ...] = (
    ("model", "model", _text("a model id")),
    ("timeout_s", "timeout_s", _off_or_positive),
    ("tools", "tools", _tools),
    ("prompt", "prompt", _text("text")),
    ("max_tokens", "max_tokens", _count),
    ("network", "network", _flag),
    ("token_budget", "token_budget", _count),
    ("budget_usd", "budget_usd", _off_or_positive),
    ("max_turns", "max_turns", _at_least(1)),
)


def _table(data: dict[str, Any], path: str) -> dict[str, Any]:
    """The table at dotted `path` ({} when absent); anything else is an error."""
    table = data
    for i, part in enumerate(path.split(".")):
        key = ".".join(path.split(".")[: i + 1])
        table = _expect(key, table.get(part, {}), dict, "a table")
    return table


# Read after [sandbox] and [runner] (the order problems are reported in).
LATE_SECTIONS = frozenset({"simulator", "api"})


def _read_fields(
    data: dict[str, Any], changes: dict[str, Any], sections: Callable[[str], bool]
) -> None:
    for section, key, name, read in FIELDS:
        if sections(section):
            table = _table(data, section)
            if key in table:
                changes[name] = read(f"{section}.{key}", table[key])


def parse_config(data: dict[str, Any], base: Settings | None = None) -> Settings:
    """Apply a parsed TOML document to `base` (defaults when None)."""
    s = base or Settings()
    changes: dict[str, Any] = {}
    check_keys(data)  # unknown keys, in every section, with a "did you mean"
    _read_fields(data, changes, lambda section: section not in LATE_SECTIONS)
    if "sandbox" in data:
        table = _expect("sandbox", data["sandbox"], dict, "a table")
        changes["sandbox"] = _sandbox(table, s.sandbox)
    if "runner" in data:
        changes.update(_runner(_expect("runner", data["runner"], dict, "a table")))
    _read_fields(data, changes, lambda section: section in LATE_SECTIONS)

    if "models" in data:
        models = _expect("models", data["models"], dict, "a table")
        try:
            changes["catalog"] = s.catalog.with_overrides(models)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError("models", str(exc)) from None

    if "notify" in data:
        changes["notify"] = _notify(_expect("notify", data["notify"], dict, "a table"))

    if "keys" in data:
        keys = _expect("keys", data["keys"], dict, "a table of binding id = key")
        changes["keymap"] = tuple(_flat_keys(keys, "keys"))

    if "roles" in data:
        roles = dict(s.roles)
        table = _expect("roles", data["roles"], dict, "a table")
        for name, spec in table.items():
            key = f"roles.{name}"
            _expect(key, spec, dict, "a table")
            role_base = roles.get(name)
            if role_base is None:
                if "model" not in spec or "tools" not in spec:
                    raise ConfigError(key, "a new role needs `model` and `tools`")
                role_base = RoleSpec(name, spec["model"], 300.0, (), GENERIC_ROLE_PROMPT)
            rc = {
                field: read(f"{key}.{option}", spec[option])
                for option, field, read in ROLE_FIELDS
                if option in spec
            }
            roles[name] = replace(role_base, **rc)
        changes["roles"] = roles

    return replace(s, **changes)


def load_settings(
    path: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    explicit: bool = False,
) -> Settings:
    """Defaults + TOML file + environment.

    `explicit` means the user named the file (`--config`), so a missing file is an
    error; the default path may simply not exist.
    """
    env = dict(os.environ) if env is None else env
    settings = Settings()
    cfg_path = path or Path(env.get("DELEGATE_CONFIG", "")) or None
    if cfg_path is None or str(cfg_path) == ".":
        cfg_path = default_config_path()
        explicit = False
    elif path is None:
        explicit = True
    if cfg_path.exists() or explicit:
        try:
            raw = cfg_path.read_bytes()
        except OSError as exc:
            raise ConfigError(str(cfg_path), f"cannot read: {exc.strerror or exc}") from None
        import tomllib  # here: most runs have no settings file to read

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(cfg_path), f"invalid TOML: {exc}") from None
        try:
            check_keys(data)
        except ConfigError as exc:  # a typo: say which file holds it
            raise ConfigError(f"{cfg_path}: {exc.key}", exc.problem) from None
        settings = replace(parse_config(data, settings), config_path=cfg_path)
    if env.get("DELEGATE_DB"):
        settings = replace(settings, db_path=Path(env["DELEGATE_DB"]))
    if env.get("ANTHROPIC_BASE_URL"):
        settings = replace(settings, api_base_url=env["ANTHROPIC_BASE_URL"])
    if env.get("DELEGATE_MAX_CONCURRENT"):
        raw_n = env["DELEGATE_MAX_CONCURRENT"]
        if not raw_n.isdigit() or int(raw_n) < 1:
            raise ConfigError(
                "DELEGATE_MAX_CONCURRENT", f"must be a whole number >= 1, got {raw_n!r}"
            )
        settings = replace(settings, max_concurrent=int(raw_n))
    return settings
