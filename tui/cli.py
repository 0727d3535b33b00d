"""The `delegate` command. Imports stay lazy so `delegate --help` is instant."""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from core.errors import DelegateError, UsageError


def _add_option(g: Any, name: str, *, hidden: bool = False) -> None:
    """One common option; `COMMAND_OPTIONS` says which command shows which."""
    specs: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
        "simulate": (
            ("--simulate",),
            {"action": "store_true", "default": None, "help": "use the built-in simulator"},
        ),
        "scenario": (
            ("--scenario",),
            {"metavar": "NAME|FILE", "help": "simulator scenario (default: default)"},
        ),
        "workspace": (
            ("--workspace",),
            {"metavar": "DIR", "type": Path, "help": "agents' working directory"},
        ),
        "db": (("--db",), {"metavar": "PATH", "type": Path, "help": "SQLite database of runs"}),
        "config": (
            ("--config",),
            {"metavar": "FILE", "type": Path, "help": "settings file (TOML)"},
        ),
        "max_concurrent": (
            ("--max-concurrent",),
            {"metavar": "N", "type": int, "help": "sub-agents at once (default 5)"},
        ),
        "yes": (
            ("--yes",),
            {"action": "store_true", "default": None, "help": "allow every command"},
        ),
        "ceo_model": (("--ceo-model",), {"metavar": "M", "help": "the CEO's model"}),
        "budget_usd": (
            ("--budget-usd",),
            {
                "metavar": "X",
                "help": "stop the run when it has cost $X (default $5.00; 0 or none: no budget)",
            },
        ),
        "runner": (
            ("--runner",),
            {
                "choices": ("local", "temporal"),
                "help": "where sub-agents run (default local)",
            },
        ),
        "temporal": (
            ("--temporal",),
            {"metavar": "HOST:PORT", "help": "the Temporal server for --runner temporal"},
        ),
    }
    flags, kwargs = specs[name]
    if hidden:
        kwargs = {**kwargs, "help": argparse.SUPPRESS}
    g.add_argument(*flags, **kwargs)


RUN_OPTIONS = (
    "simulate",
    "scenario",
    "workspace",
    "db",
    "config",
    "max_concurrent",
    "yes",
    "ceo_model",
    "budget_usd",
    "runner",
    "temporal",
)
# Numbers that must be at least a minimum: (dest, flag, minimum). NaN and infinity are
# refused for floats too.
LIMITS: tuple[tuple[str, str, float], ...] = (
    ("max_concurrent", "--max-concurrent", 1),
    ("limit", "--limit", 1),
    ("tokens_per_s", "--tokens-per-s", 1e-9),
)


Handler = Callable[[argparse.Namespace, Any], int]


class Subcommand(NamedTuple):
    """One `delegate NAME` command, in one place: its overview line, its arguments, the
    common options its help shows, and its handler (imported only when it runs).

    A named tuple, not a dataclass: `dataclasses` (and the `inspect` it imports) would be
    most of the import time of `delegate --help`."""

    name: str
    usage: str  # the overview's left column, after `delegate NAME`
    summary: str  # the overview's right column
    handler: str  # "module:function", called with (args, settings), returns the exit code
    # The common options its help shows. The others are still accepted, hidden (DESIGN.md's
    # contract: scripts pass one set of flags to every command) since they change nothing.
    options: tuple[str, ...]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    description: str = ""
    sandbox: bool = False  # probe the sandbox first: `required` mode without one stops here
    grouped: bool = False  # its common options under a "common options" heading
    defines: tuple[str, ...] = ()  # common option names its own arguments define


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", metavar="TASK", help="the task for the CEO")
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", metavar="N", type=int, default=50, help="how many runs (default 50)")


def _run_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id, unique prefix, or `last`")


def _show_arguments(p: argparse.ArgumentParser) -> None:
    _run_ref(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the run summary as JSON")
    fmt.add_argument("--markdown", action="store_true", help="the whole run as Markdown")


def _simulator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--tokens-per-s", type=float, help="streaming pace (default 400)")


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", metavar="N", type=int, help="only the newest N runs (default: all)")


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, when not http://HOST:PORT (a proxy)",
    )
    p.add_argument("--demo", action="store_true", help="each tab runs the demo")


def _worker_arguments(p: argparse.ArgumentParser) -> None:
    from tui.worker_cli import add_worker_options

    add_worker_options(p)


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "run",
        "TASK [--json] [options]",
        "headless; exit 0 verified, 1 unverified/failed, 2 usage",
        "tui.headless:run_command",
        RUN_OPTIONS,
        _run_arguments,
        sandbox=True,
        grouped=True,
    ),
    Subcommand(
        "history",
        "[--json]",
        "past runs, newest first",
        "tui.headless:history_command",
        ("db", "config"),
        _history_arguments,
        description=(
            "Past runs, newest first. On a terminal: aligned columns. Piped: one run per line, "
            "tab-separated: run id, started (local time), status, agents, cost in USD, task."
        ),
    ),
    Subcommand(
        "show",
        "RUN [--json|--markdown]",
        "one run: agents, usage, cost, transcript",
        "tui.headless:show_command",
        ("db", "config"),
        _show_arguments,
    ),
    Subcommand(
        "replay",
        "RUN",
        "the TUI on a recorded run, read-only",
        "tui.launch:replay_command",
        ("db", "config", "workspace"),  # the workspace is where exports go
        _run_ref,
    ),
    Subcommand(
        "resume",
        "RUN",
        "reopen a run; interrupted agents can be retried",
        "tui.launch:resume_command",
        RUN_OPTIONS,
        _run_ref,
        sandbox=True,
        grouped=True,
    ),
    Subcommand(
        "simulator",
        "[--port N]",
        "serve the model simulator on loopback",
        "tui.headless:simulator_command",
        ("scenario", "config"),
        _simulator_arguments,
    ),
    Subcommand(
        "stats",
        "[--json]",
        "model scorecard: pass rate, cost, time per role/model",
        "tui.stats_cli:stats_command",
        ("db", "config"),
        _stats_arguments,
        description=(
            "The model scorecard from recorded runs: per role and model, attempts, pass rate "
            "(done and verified, against unverified and failed; stopped attempts are left "
            "out of the rate), median cost and median time per attempt. On a terminal: "
            "aligned columns. Piped: tab-separated rows: role, model, attempts, passed, "
            "unverified, failed, pass rate, median cost in USD, median seconds."
        ),
    ),
    Subcommand(
        "serve",
        "[--port N] [--host H]",
        "the TUI in a browser (textual-serve), a run per tab",
        "tui.serve:serve_command",
        RUN_OPTIONS,  # passed on to the delegate each browser tab runs
        _serve_arguments,
        description=(
            "Serve the delegate TUI on a web page (textual-serve): each browser tab runs "
            "its own delegate with these options, recording into the same database. "
            "There is no login: keep the default loopback address unless you trust the "
            "network."
        ),
        grouped=True,
    ),
    Subcommand(
        "worker",
        "--temporal HOST:PORT",
        "run sub-agents of --runner temporal sessions here",
        "tui.worker_cli:worker_command",
        ("simulate", "scenario", "workspace", "config"),
        _worker_arguments,
        defines=("temporal",),
    ),
)
BY_NAME: dict[str, Subcommand] = {c.name: c for c in SUBCOMMANDS}
COMMANDS = tuple(BY_NAME)
# Which common options each command shows in its help (None: the TUI).
COMMAND_OPTIONS: dict[str | None, tuple[str, ...]] = {
    None: RUN_OPTIONS,
    **{c.name: c.options for c in SUBCOMMANDS},
}


HELP_WIDTH = 79  # the overview fits an 80-column terminal


def _usage_line(left: str, right: str) -> str:
    return _entry(f"  {left:<38} ", right)


def _entry(head: str, text: str) -> str:
    """`head` then `text`, wrapped to HELP_WIDTH under its own column."""
    import textwrap

    lines = textwrap.wrap(text, HELP_WIDTH - len(head), break_on_hyphens=False) or [""]
    indent = " " * len(head)
    return "\n".join([head + lines[0], *(indent + line for line in lines[1:])])


COMMON_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--simulate", "use the built-in model simulator (default when no API key is set)"),
    (
        "--scenario NAME|FILE",
        "simulator scenario: default, timeout, failure, api-errors, "
        "load[:agents=N,tps=T,seconds=S], or a .toml/.json file",
    ),
    ("--workspace DIR", "where agents read and write files (default: current directory)"),
    ("--db PATH", "the SQLite run database (default: in your user data dir)"),
    ("--config FILE", "settings file (default: config.toml in your user config dir)"),
    ("--max-concurrent N", "sub-agents running at once (default 5; the rest queue)"),
    ("--yes", "allow every command without asking (headless: otherwise denied)"),
    ("--ceo-model M", "the CEO's model (default claude-opus-5-5)"),
    (
        "--budget-usd X",
        "stop the run when it has cost $X (default $5.00, [limits] budget_usd; "
        "0 or none: no budget). Warned at 80%.",
    ),
    (
        "--runner local|temporal",
        "where sub-agents run (default local; temporal needs the extra: "
        "pip install 'delegate[temporal]')",
    ),
    (
        "--temporal HOST:PORT",
        "the Temporal server (default with --runner temporal: a local dev server "
        "started in your user data dir)",
    ),
)

OVERVIEW = (
    """\
delegate: a CEO agent and its team of sub-agents, live in your terminal.

usage:
"""
    + "\n".join(
        [
            _usage_line("delegate [TASK] [options]", "open the TUI; TASK goes to the CEO at once"),
            _usage_line(
                "delegate --demo",
                "a demo run with simulated models (one command asks for approval: press a)",
            ),
            *(_usage_line(f"delegate {c.name} {c.usage}", c.summary) for c in SUBCOMMANDS),
            _usage_line("delegate --version", "print the version"),
        ]
    )
    + "\n\ncommon options (the TUI, run, resume and serve):\n"
    + "\n".join(
        _entry(f"  {flag:<22} " if len(flag) < 23 else f"  {flag}  ", text)
        for flag, text in COMMON_OPTIONS
    )
    + """

The real Anthropic API is used when ANTHROPIC_API_KEY is set;
ANTHROPIC_BASE_URL points it at any Messages-API endpoint.
`delegate COMMAND --help` shows a command's options.
RUN is a run id, a unique prefix of one, or `last`.
"""
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("delegate").strip()
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    spec = BY_NAME.get(command) if command is not None else None
    if spec is None:
        p = _Parser(prog="delegate", usage="delegate [TASK] [options]", add_help=False)
        p.add_argument("task", nargs="?", help="a task for the CEO")
        p.add_argument("--demo", action="store_true", help="a scripted demo run with the simulator")
        p.add_argument("--version", action="store_true", help="print the version")
        p.add_argument("-h", "--help", action="store_true")
    else:
        p = _Parser(prog=f"delegate {command}")
        if spec.description:
            p.description = spec.description
        spec.arguments(p)
    grouped = spec is None or spec.grouped
    g: Any = p.add_argument_group("common options") if grouped else p
    shown = RUN_OPTIONS if spec is None else spec.options
    for name in shown:
        _add_option(g, name)
    own = spec.defines if spec is not None else ()
    for name in RUN_OPTIONS:
        if name not in shown and name not in own:
            _add_option(p, name, hidden=True)
    return p


def check_limits(args: argparse.Namespace) -> None:
    """Counts and rates given on the command line: zero, negative or NaN is bad usage."""
    for dest, flag, minimum in LIMITS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        if not math.isfinite(value) or value < minimum:
            least = "at least 1" if minimum == 1 else "positive"
            raise UsageError(f"{flag} must be {least}, got {value:g}")


def settings_from(args: argparse.Namespace) -> Any:
    from core.config import load_settings

    config = getattr(args, "config", None)
    settings = load_settings(config, explicit=config is not None)
    ws = getattr(args, "workspace", None)
    workspace = ws.expanduser() if ws else None
    if workspace is not None:
        from core.tools.workspace import workspace_problem

        problem = workspace_problem(workspace)
        if problem:
            raise UsageError(problem)
    db = getattr(args, "db", None)
    settings = settings.with_overrides(
        simulate=True if getattr(args, "simulate", None) else None,
        scenario=getattr(args, "scenario", None),
        workspace=workspace,
        db_path=db.expanduser() if db else None,
        max_concurrent=getattr(args, "max_concurrent", None),
        assume_yes=True if getattr(args, "yes", None) else None,
        ceo_model=getattr(args, "ceo_model", None),
        sim_tokens_per_s=getattr(args, "tokens_per_s", None),
    )
    runner = getattr(args, "runner", None)
    temporal = getattr(args, "temporal", None)
    if temporal is not None:
        from core.config import address_problem

        problem = address_problem(temporal)
        if problem:
            raise UsageError(f"--temporal {problem}")
        if runner == "local":
            raise UsageError("--temporal names a server for --runner temporal, not local")
        runner = runner or "temporal"  # a server named on the command line is meant to be used
    settings = settings.with_overrides(runner=runner, temporal_address=temporal)
    if settings.runner == "temporal":
        from core.temporal.errors import require_sdk

        require_sdk()
    budget = getattr(args, "budget_usd", None)
    if budget is not None:
        from dataclasses import replace

        settings = replace(settings, budget_usd=parse_budget(budget))
    if settings.keymap:  # a typo in [keys] is an error for every command, like any other
        from tui.keymap import keymap_from

        keymap_from(settings.keymap, str(settings.config_path or ""))
    if settings.db_path is not None:  # named by --db or DELEGATE_DB: its folder must exist
        _check_db_path(Path(settings.db_path), "--db" if db else "DELEGATE_DB")
    return settings


def parse_budget(text: str) -> float | None:
    """`--budget-usd`: dollars, or 0 / none for no budget."""
    if text.strip().lower() in ("none", "0", "0.0"):
        return None
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise UsageError(f"--budget-usd must be a number of dollars, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--budget-usd must be a positive number of dollars, got {text!r}")
    return value or None


def _check_db_path(path: Path, source: str) -> None:
    if path.is_dir():
        raise UsageError(f"{source} {path}: is a directory (name the database file)")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"{source} {path}: the folder {folder} {what}")


def version() -> str:
    """This checkout's version (its pyproject.toml), else the installed package's."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
        if project["name"] == "delegate":  # a checkout, or an editable install of one
            return str(project["version"])
    except (OSError, ValueError, KeyError):
        pass  # installed: site-packages holds no pyproject.toml of ours
    from importlib import metadata  # slower (it scans sys.path), so second

    try:
        return metadata.version("delegate")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    rest = argv[1:] if command else argv
    try:
        try:
            args = build_parser(command).parse_args(rest)
        except UsageError as exc:
            misplaced = None if command else command_after_options(rest, build_parser(None))
            if misplaced is None:
                raise
            raise UsageError(f"{exc}; {_goes_first(misplaced)}") from None
        if command is None and args.help:
            print(OVERVIEW, end="")
            return 0
        if command is None and args.version:
            print(f"delegate {version()}")
            return 0
        check_limits(args)
        if command is None and "--" not in rest:
            check_command_typo(args.task)
        return _dispatch(command, args)
    except DelegateError as exc:  # every error for the user: one line, exit 2
        print(f"delegate: {_redacted(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("delegate: interrupted", file=sys.stderr)
        return 130


# One-word tasks that are surely a mistyped command or option, not work for the CEO.
OPTION_WORDS = {"help": "--help", "version": "--version", "demo": "--demo"}


def command_after_options(argv: list[str], parser: argparse.ArgumentParser) -> str | None:
    """`delegate --yes run TASK`: a command word that came after options, read as the
    TUI's task (not an option's value: `--workspace run` names a directory)."""
    if "--" in argv:
        return None
    try:
        known, _unknown = parser.parse_known_args(argv)
    except UsageError:
        return None
    task = getattr(known, "task", None)
    return task if task in COMMANDS else None


def _goes_first(command: str) -> str:
    return f"`{command}` is a command: it goes first (delegate {command} ... [options])"


def check_command_typo(task: str | None) -> None:
    """`delegate histroy` would start a run (and spend money) with the task "histroy"."""
    if task is None or not task.strip() or len(task.split()) > 1:
        return
    word = task.strip()
    if word in COMMANDS:  # `delegate --simulate run`: options before the command
        raise UsageError(
            f"{_goes_first(word)}; to give the CEO that one-word task: delegate -- {word}"
        )
    if word.lower() in OPTION_WORDS:
        meant = OPTION_WORDS[word.lower()]
    else:
        import difflib  # only for a one-word task

        close = difflib.get_close_matches(word.lower(), COMMANDS, n=1, cutoff=0.75)
        if not close:
            return
        meant = close[0]
    raise UsageError(
        f"unknown command {word!r} (did you mean `delegate {meant}`?); "
        f"to give the CEO that one-word task: delegate -- {word}"
    )


def _redacted(line: str) -> str:
    from core import redact  # here, not at the top: `--help` and `--version` need none of it

    return redact.current().redact(line)


def check_sandbox(settings: Any) -> None:
    """Probe the sandbox once, before any screen: `required` mode without one stops here."""
    from core.sandbox import detect_runner

    detect_runner(settings.sandbox, Path(settings.workspace).resolve())


def _dispatch(command: str | None, args: argparse.Namespace) -> int:
    spec = BY_NAME.get(command) if command is not None else None
    module, _, function = (spec.handler if spec else "tui.launch:launch_live").partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    settings = settings_from(args)
    if spec is None or spec.sandbox:
        check_sandbox(settings)
    return handler(args, settings)


def entry() -> NoReturn:
    """The `delegate` program: `main()`, then leave without the interpreter's shutdown
    tax once everything is written (see tui/process_exit.py)."""
    code = main()
    from tui.process_exit import leave

    leave(code)


if __name__ == "__main__":
    entry()
