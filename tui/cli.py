"""The `delegate` command. Imports stay lazy so `delegate --help` is instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from core import redact

COMMANDS = ("run", "history", "show", "replay", "resume", "simulator")

OVERVIEW = """\
delegate: a CEO agent and its team of sub-agents, live in your terminal.

usage:
  delegate [TASK] [options]              open the TUI; TASK goes to the CEO at once
  delegate run TASK [--json] [options]   headless run; exit 0 done, 1 failed, 2 bad usage
  delegate history [--json]              past runs, newest first
  delegate show RUN [--json|--markdown]  one run: agents, usage, cost, transcript
  delegate replay RUN                    the TUI on a recorded run, read-only
  delegate resume RUN                    reopen a run; interrupted agents can be retried
  delegate simulator [--port N]          serve the model simulator on loopback

common options:
  --simulate             use the built-in model simulator (default when no API key is set)
  --scenario NAME|FILE   simulator scenario: default, timeout, failure, api-errors,
                         load[:agents=N,tps=T,seconds=S], or a .toml/.json file
  --workspace DIR        where agents read and write files (default: current directory)
  --db PATH              the SQLite run database (default: in your user data dir)
  --config FILE          settings file (default: config.toml in your user config dir)
  --max-concurrent N     sub-agents running at once (default 5; the rest queue)
  --yes                  allow every command without asking (headless: otherwise denied)
  --ceo-model M          the CEO's model (default claude-opus-5-5)

The real Anthropic API is used when ANTHROPIC_API_KEY is set; ANTHROPIC_BASE_URL points
it at any Messages-API endpoint. `delegate COMMAND --help` shows a command's options.
RUN is a run id, a unique prefix of one, or `last`.
"""


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit 2."""


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common options")
    g.add_argument(
        "--simulate", action="store_true", default=None, help="use the built-in simulator"
    )
    g.add_argument("--scenario", metavar="NAME|FILE", help="simulator scenario (default: default)")
    g.add_argument("--workspace", metavar="DIR", type=Path, help="agents' working directory")
    g.add_argument("--db", metavar="PATH", type=Path, help="SQLite database of runs")
    g.add_argument("--config", metavar="FILE", type=Path, help="settings file (TOML)")
    g.add_argument("--max-concurrent", metavar="N", type=int, help="sub-agents at once (default 5)")
    g.add_argument("--yes", action="store_true", default=None, help="allow every command")
    g.add_argument("--ceo-model", metavar="M", help="the CEO's model")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("delegate").strip()
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    if command is None:
        p = _Parser(prog="delegate", usage="delegate [TASK] [options]", add_help=False)
        p.add_argument("task", nargs="?", help="a task for the CEO")
        p.add_argument("--demo", action="store_true", help="a scripted demo run with the simulator")
        p.add_argument("-h", "--help", action="store_true")
        _common(p)
        return p
    p = _Parser(prog=f"delegate {command}")
    if command == "run":
        p.add_argument("task", help="the task for the CEO")
        p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
        p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    elif command == "history":
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument("--limit", type=int, default=50, help="how many runs (default 50)")
    elif command == "show":
        p.add_argument("run", metavar="RUN", help="run id, unique prefix, or `last`")
        fmt = p.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true", help="the run summary as JSON")
        fmt.add_argument("--markdown", action="store_true", help="the whole run as Markdown")
    elif command in ("replay", "resume"):
        p.add_argument("run", metavar="RUN", help="run id, unique prefix, or `last`")
    elif command == "simulator":
        p.add_argument(
            "--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)"
        )
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        p.add_argument("--tokens-per-s", type=float, help="streaming pace (default 400)")
    _common(p)
    return p


def settings_from(args: argparse.Namespace) -> Any:
    from core.config import load_settings

    settings = load_settings(args.config, explicit=args.config is not None)
    workspace = args.workspace.expanduser() if args.workspace else None
    if workspace is not None:
        from core.tools.workspace import workspace_problem

        problem = workspace_problem(workspace)
        if problem:
            raise UsageError(problem)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UsageError("--max-concurrent must be at least 1")
    return settings.with_overrides(
        simulate=True if args.simulate else None,
        scenario=args.scenario,
        workspace=workspace,
        db_path=args.db.expanduser() if args.db else None,
        max_concurrent=args.max_concurrent,
        assume_yes=True if args.yes else None,
        ceo_model=args.ceo_model,
        sim_tokens_per_s=getattr(args, "tokens_per_s", None),
    )


def db_path(settings: Any) -> Path:
    from core.config import default_db_path

    return Path(settings.db_path) if settings.db_path else default_db_path()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    rest = argv[1:] if command else argv
    try:
        args = build_parser(command).parse_args(rest)
        if command is None and args.help:
            print(OVERVIEW, end="")
            return 0
        return _dispatch(command, args)
    except UsageError as exc:
        print(f"delegate: {redact.current().redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("delegate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # known error types print one line; see _known_error
        line = _known_error(exc)
        if line is None:
            raise
        print(f"delegate: {redact.current().redact(str(line))}", file=sys.stderr)
        return 2


def _known_error(exc: Exception) -> str | None:
    from core.config import ConfigError
    from core.model_access import ModelAccessError
    from core.session import SessionError
    from core.store import StoreError

    if isinstance(exc, ConfigError | ModelAccessError | SessionError | StoreError):
        return str(exc)
    return None


def _dispatch(command: str | None, args: argparse.Namespace) -> int:
    if command == "run":
        from tui.headless import run_command

        return run_command(args, settings_from(args))
    if command == "history":
        from tui.headless import history_command

        return history_command(args, settings_from(args))
    if command == "show":
        from tui.headless import show_command

        return show_command(args, settings_from(args))
    if command == "simulator":
        from tui.headless import simulator_command

        return simulator_command(args, settings_from(args))
    if command in ("replay", "resume"):
        from tui.launch import launch_recorded

        return launch_recorded(command, args, settings_from(args))
    from tui.launch import launch_live

    return launch_live(args, settings_from(args))


if __name__ == "__main__":
    sys.exit(main())
