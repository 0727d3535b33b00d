"""What an "always allow" answer may add to the session's allow list, and why some
commands get no such offer.

`always_allow_offer(command)` is the one decision: the exact prefix (the words every
later command must start with to run unasked), or None with the reason. The approval
inbox shows that prefix before the operator presses the key, and the broker adds exactly
that prefix. A prefix that would let an agent run code of its choosing is never offered:
interpreters and shells (`python`, `bash`, `node`...), wrappers that run another program
(`env`, `xargs`, `sudo`, `timeout`...), build and test runners that execute workspace
files (`make`, `pytest`, `npm test`, `cargo run`, `go test`, `docker`...), a program
named by path (`./build.sh`), leading `VAR=value` assignments, and any line with shell
control characters (the prefix could not be checked against the rest of it).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from core.tools.shell_syntax import has_shell_control

# One word that runs whatever code, script or program it is given.
_RUNNERS = re.compile(
    r"(?:sh|bash|zsh|dash|ksh|mksh|ash|fish|csh|tcsh|busybox|toybox"
    r"|python[0-9.]*|pypy[0-9.]*|ipython[0-9.]*|jupyter|node|nodejs|deno|bun|bunx|tsx|ts-node"
    r"|perl[0-9.]*|ruby[0-9.]*|irb|php[0-9.]*|lua[0-9.]*|luajit|tclsh|wish|expect"
    r"|R|Rscript|julia|java|jshell|kotlin|scala|groovy|dotnet|pwsh|powershell|osascript"
    r"|awk|gawk|mawk|nawk|sed|gsed|vim?|nvim|emacs|ed|gdb|lldb|strace|ltrace"
    r"|env|xargs|parallel|sudo|doas|su|pkexec|eval|exec|source|\.|command|builtin|nohup|time"
    r"|nice|ionice|timeout|watch|setsid|stdbuf|script|flock|chroot|unshare|nsenter"
    r"|systemd-run|at|batch|crontab|ssh|make|gmake|cmake|ninja|meson|bazel|bazelisk|scons"
    r"|rake|gradle|gradlew|mvn|mvnw|ant|sbt|pytest|py\.test|tox|nox|hatch|poetry|pipenv|pdm"
    r"|uvx|pipx|npx|pnpx|pnpm|yarn|jest|vitest|mocha|docker|podman|nerdctl|kubectl|vagrant)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Two-word prefixes (tool, subcommand) that run code from the workspace or a package.
_RUNNING_SUBCOMMANDS: dict[str, frozenset[str]] = {
    "npm": _words(
        "run run-script rum urn test t tst start stop restart exec x install i in ins add "
        "ci rebuild rb explore init create pack publish"
    ),
    "cargo": _words(
        "run r test t build b bench check c clippy doc d install fix publish rustc miri xtask"
    ),
    "go": _words("run test generate tool vet build install get"),
    "uv": _words("run tool pip sync add build"),
    "pip": _words("install wheel download"),
    "pip3": _words("install wheel download"),
    # Hooks (.git/hooks), configured programs (core.fsmonitor, aliases, drivers): a
    # workspace repository can run code on these.
    "git": _words(
        "commit merge rebase checkout switch am pull push cherry-pick revert clone fetch "
        "submodule filter-branch bisect difftool mergetool gc worktree config send-email rerere"
    ),
}
# Tools whose prefix is two words (`git log`); the first word alone would allow them all.
_TWO_WORD = frozenset({"git", "npm", "cargo", "go", "uv", "pip", "pip3", "gh"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class AlwaysOffer:
    """`prefix`: the exact words "always" adds; None when it is not offered, and `reason`
    says why in words the operator reads."""

    prefix: str | None
    reason: str = ""

    @property
    def offered(self) -> bool:
        return self.prefix is not None


def _refuse(reason: str) -> AlwaysOffer:
    return AlwaysOffer(None, reason)


def always_allow_offer(command: str) -> AlwaysOffer:
    """The prefix an "always allow" answer to `command` adds, or why none is offered."""
    if not command.strip():
        return _refuse("the command is empty")
    if has_shell_control(command):
        return _refuse(
            "it chains, pipes, redirects or substitutes (; | & > $( ...), "
            "so no prefix can vouch for the whole line"
        )
    try:
        tokens = shlex.split(command, posix=True)
    except ValueError:
        return _refuse("its quoting does not parse")
    if not tokens:
        return _refuse("the command is empty")
    first = tokens[0]
    if _ASSIGNMENT.match(first):
        return _refuse(
            f"it sets {first.split('=')[0]} first, which can change what any program runs"
        )
    if "/" in first:
        return _refuse(f"it runs a program by path ({first}): whatever that file holds")
    if _RUNNERS.fullmatch(first):
        return _refuse(f"{first} runs whatever code or program it is given")
    if first in _TWO_WORD:
        sub = tokens[1] if len(tokens) > 1 else ""
        if not sub or sub.startswith("-"):
            return _refuse(f"{first} alone would allow every {first} command")
        if sub in _RUNNING_SUBCOMMANDS.get(first, ()):
            return _refuse(f"{first} {sub} can run code from the workspace or a package")
        return AlwaysOffer(shlex.join(tokens[:2]))
    return AlwaysOffer(shlex.join(tokens[:1]))
