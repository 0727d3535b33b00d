"""The command permission policy: which shell commands run, which are refused, which ask.

Allow prefixes match whole words and never a command that chains, pipes, redirects or
substitutes, so `ls` cannot be stretched into `ls; rm -rf /`. Deny prefixes are checked
against every simple command inside the line and win over everything; they are a best
effort (a shell has many ways to hide a word): the real safety is the sandbox, and `ask`
or `deny` mode with a short allow list.

Allow prefixes depend on the sandbox (core.sandbox): inside it every allowed prefix
applies; with the sandbox off, a prefix never allows a command that runs workspace code
(`runs_workspace_code`) or names a path outside the workspace; where no sandbox could
start, no prefix allows anything and every command asks.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from core.events import ApprovalDecision, ApprovalRequested, ApprovalResolved, Event
from core.sandbox import SandboxState
from core.tools.always_allow import always_allow_offer
from core.tools.shell_syntax import has_shell_control

Mode = Literal["ask", "allow", "deny"]
Decision = Literal["allow", "deny", "ask"]

# Separators used to cut a line into the simple commands the deny list is checked on.
_SEGMENT_SPLIT = re.compile(r"\|\||&&|[;&|`\n\r(){}]|\$\(|<\(|>\(")
_WRAPPERS = frozenset(
    {"sudo", "env", "command", "exec", "nohup", "time", "nice", "xargs", "builtin"}
)
# Arguments that turn an otherwise read-only allowed command into one that writes or runs
# programs; a command carrying one is never allowed by prefix.
_UNSAFE_ARGS: dict[str, tuple[str, ...]] = {
    "find": (
        "-exec",
        "-execdir",
        "-ok",
        "-okdir",
        "-delete",
        "-fprint",
        "-fprint0",
        "-fprintf",
        "-fls",
    ),
    "git": ("--output", "--ext-diff", "--upload-pack", "--exec"),
    "sort": ("-o", "--output"),
}
# Commands whose approval prefix is two words (`git commit`), not one.
_TWO_WORD = frozenset(
    {"git", "npm", "pnpm", "yarn", "cargo", "go", "uv", "pip", "pip3", "docker", "make"}
)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def _words(prefix: str) -> list[str]:
    return _split(prefix.strip())


def _has_unsafe_arg(tokens: list[str]) -> bool:
    unsafe = _UNSAFE_ARGS.get(os.path.basename(tokens[0])) if tokens else None
    if not unsafe:
        return False
    return any(tok == arg or tok.startswith(arg + "=") for tok in tokens[1:] for arg in unsafe)


def _simple_commands(command: str) -> list[list[str]]:
    """Every simple command in the line, with leading `VAR=x` and wrappers (sudo...) removed."""
    result = []
    for segment in _SEGMENT_SPLIT.split(command):
        tokens = _split(segment)
        while tokens and (
            re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]) or tokens[0] in _WRAPPERS
        ):
            tokens = tokens[1:]
        if tokens:
            result.append([os.path.basename(tokens[0]), *tokens[1:]])
    return result


# Programs that run code from the workspace (scripts, tests, build files, package hooks,
# repo config): without the sandbox that code runs with the user's full rights.
_CODE_RUNNERS = frozenset(
    {
        "pytest", "py.test", "tox", "nox", "make", "gmake", "cmake", "ninja", "meson", "node",
        "nodejs", "deno", "bun", "npm", "npx", "pnpm", "yarn", "cargo", "rustc", "go", "uv", "uvx",
        "pip", "pip3", "poetry", "pdm", "hatch", "pipx", "ruby", "perl", "php", "bundle", "rake",
        "gradle", "gradlew", "mvn", "ant", "just", "sh", "bash", "dash", "zsh", "ksh", "fish",
        "source", ".", "eval", "exec", "xargs", "sudo", "env", "nohup", "timeout", "watch",
        "busybox", "docker", "podman", "java", "lua",
    }
)  # fmt: skip
_PYTHON = re.compile(r"^(python|pypy)[0-9.]*$")
# `git` reads the repository's own config (core.fsmonitor, diff drivers, hooks, aliases)
# on nearly every subcommand; only these do not touch a repository.
_GIT_SAFE = (["--version"], ["version"], ["help"])


def runs_workspace_code(command: str) -> bool:
    """True if any simple command in the line can run code the workspace provides:
    interpreters, test runners, build tools, package managers, git (repo config), and
    any program named by a path (`./run.sh`, `bin/tool`)."""
    for tokens in _simple_commands(command):
        name = tokens[0]
        if name in _CODE_RUNNERS or _PYTHON.match(name):
            return True
        if name == "git" and tokens[1:2] not in _GIT_SAFE:
            return True
    for segment in _SEGMENT_SPLIT.split(command):
        words = _split(segment)
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]
        if words and "/" in words[0]:
            return True
    return False


def _reaches_outside(tokens: list[str]) -> bool:
    """An argument that may name something outside the workspace: an absolute or `~`
    path, a `..` step, a variable, or an option with a path glued to it."""
    for tok in tokens[1:]:
        value = tok.split("=", 1)[1] if tok.startswith("-") and "=" in tok else tok
        if value.startswith(("/", "~")) or "$" in tok:
            return True
        if ".." in value.split("/"):
            return True
        if tok.startswith("-") and "/" in tok:
            return True
    return False


def suggest_prefix(command: str) -> str:
    """The prefix an 'always allow' answer adds: the first word; two for `git commit`,
    `npm run`...; three for `python -m pytest`. Leading `VAR=x` are skipped."""
    segments = _simple_commands(command)
    if not segments:
        return ""
    tokens = segments[0]
    if tokens[0] in ("python", "python3") and len(tokens) >= 3 and tokens[1] == "-m":
        return shlex.join(tokens[:3])
    if tokens[0] in _TWO_WORD and len(tokens) >= 2 and not tokens[1].startswith("-"):
        return shlex.join(tokens[:2])
    return shlex.join(tokens[:1])


class CommandPolicy:
    """Decides for one command: `allow`, `deny` or `ask` (ask the operator)."""

    def __init__(
        self,
        mode: Mode,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        *,
        sandbox: SandboxState = "sandboxed",
    ) -> None:
        if mode not in ("ask", "allow", "deny"):
            raise ValueError(f"permission mode must be ask, allow or deny, got {mode!r}")
        self.mode: Mode = mode
        # How commands will run: decides which allow prefixes apply (see the module doc).
        self.sandbox: SandboxState = sandbox
        self._allow: list[list[str]] = []
        self._deny: list[list[str]] = [w for w in (_words(p) for p in deny) if w]
        for prefix in allow:
            self.add_allow(prefix)

    @property
    def allow(self) -> list[str]:
        return [shlex.join(words) for words in self._allow]

    @property
    def deny(self) -> list[str]:
        return [shlex.join(words) for words in self._deny]

    def add_allow(self, prefix: str) -> None:
        """Allow commands starting with these words from now on (an 'always' approval)."""
        words = _words(prefix)
        if words and words not in self._allow:
            self._allow.append(words)

    def denied_by(self, command: str) -> str | None:
        """The deny prefix that matches any simple command in the line, if one does."""
        for tokens in _simple_commands(command):
            for words in self._deny:
                if tokens[: len(words)] == words:
                    return shlex.join(words)
        return None

    def allowed_by(self, command: str) -> str | None:
        """The allow prefix matching this command, if it is a single plain command (and
        the sandbox lets prefixes apply to it)."""
        if self.sandbox == "unavailable":
            return None
        if not command.strip() or has_shell_control(command):
            return None
        try:
            tokens = shlex.split(command, posix=True)
        except ValueError:
            return None
        if not tokens or _has_unsafe_arg(tokens):
            return None
        if self.sandbox != "sandboxed" and (
            runs_workspace_code(command) or _reaches_outside(tokens)
        ):
            return None
        for words in self._allow:
            if tokens[: len(words)] == words:
                return shlex.join(words)
        return None

    def explain(self, command: str) -> tuple[Decision, str]:
        """The decision and why, in words the model and the operator can read."""
        deny = self.denied_by(command)
        if deny is not None:
            return "deny", f"it matches the denied prefix {deny!r}"
        allow = self.allowed_by(command)
        if allow is not None:
            return "allow", f"it matches the allowed prefix {allow!r}"
        if self.mode == "allow":
            return "allow", "permission mode is allow"
        if self.mode == "deny":
            return "deny", "permission mode is deny and no allowed prefix matches"
        if self.sandbox == "unavailable":
            return "ask", "no sandbox could start, so every command needs approval"
        return "ask", "no allowed prefix matches"

    def decide(self, command: str) -> Decision:
        return self.explain(command)[0]


@dataclass(frozen=True)
class PendingApproval:
    """A command waiting for the operator's answer."""

    request_id: str
    agent_id: str
    tool: str
    command: str
    cwd: str
    created_at: float


HEADLESS_REFUSAL = (
    "command not allowed in a headless run "
    "(rerun with --yes, or add its prefix to [permissions].allow)"
)


OPERATOR_DENIED = "the operator denied this command"

# Asks the operator somewhere else: (agent_id, tool, command, cwd) -> the answer.
AskElsewhere = Callable[[str, str, str, str], Awaitable[ApprovalDecision]]


class ApprovalBroker:
    """The `authorize` hook of a session: applies the policy and, in `ask` mode, waits
    for the operator through ApprovalRequested/ApprovalResolved events.

    `on_waiting(agent_id, waiting)` lets the supervisor show `waiting_approval`.
    """

    def __init__(
        self,
        emit: Callable[[Event], None],
        run_id: str,
        policy: CommandPolicy,
        *,
        interactive: bool,
        assume_yes: bool = False,
        on_waiting: Callable[[str, bool], None] | None = None,
        elsewhere: AskElsewhere | None = None,
    ) -> None:
        self.emit = emit
        # Where the operator is asked when not here (a Temporal worker: the session).
        self.elsewhere = elsewhere
        self.run_id = run_id
        self.policy = policy
        self.interactive = interactive
        self.assume_yes = assume_yes
        self.on_waiting = on_waiting
        self._pending: dict[str, tuple[PendingApproval, asyncio.Future[ApprovalDecision]]] = {}

    async def authorize(self, agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
        """Matches `core.tools.base.Authorize`: (allowed, reason shown to the model if not)."""
        decision, why = self.policy.explain(command)
        if decision == "allow":
            return True, ""
        if decision == "deny":
            return False, f"command denied by policy: {why}"
        if not self.interactive:
            return (True, "") if self.assume_yes else (False, HEADLESS_REFUSAL)
        if self.elsewhere is not None:
            answer = await self.elsewhere(agent_id, tool, command, cwd)
        else:
            answer = await self.ask(agent_id, tool, command, cwd)
        if answer == "deny":
            return False, OPERATOR_DENIED
        return True, ""

    async def ask(
        self, agent_id: str, tool: str, command: str, cwd: str, request_id: str | None = None
    ) -> ApprovalDecision:
        """Wait for the operator's answer to a command (its ApprovalRequested, then its
        ApprovalResolved). `request_id`: a request asked elsewhere, by its id (asked twice
        while pending, both wait for the one answer)."""
        known = self._pending.get(request_id or "")
        if known is not None:
            return await asyncio.shield(known[1])
        request_id = request_id or f"apr-{uuid.uuid4().hex[:10]}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ApprovalDecision] = loop.create_future()
        entry = PendingApproval(request_id, agent_id, tool, command, cwd, time.time())
        self._pending[request_id] = (entry, future)
        self.emit(
            ApprovalRequested(
                run_id=self.run_id,
                agent_id=agent_id,
                request_id=request_id,
                tool=tool,
                command=command,
                cwd=cwd,
            )
        )
        self._set_waiting(agent_id, True)
        try:
            return await future
        except asyncio.CancelledError:
            # Killed, timed out or interrupted: the request leaves the inbox. Whoever
            # removes a request from `_pending` publishes its ApprovalResolved, once.
            if self._pending.pop(request_id, None) is not None:
                self._resolved(entry, "deny", by="cancelled")
            raise
        finally:
            self._set_waiting(agent_id, False)

    def _set_waiting(self, agent_id: str, waiting: bool) -> None:
        if self.on_waiting is not None:
            self.on_waiting(agent_id, waiting)

    def _resolved(self, entry: PendingApproval, decision: ApprovalDecision, by: str) -> None:
        self.emit(
            ApprovalResolved(
                run_id=self.run_id,
                agent_id=entry.agent_id,
                request_id=entry.request_id,
                decision=decision,
                by=by,
            )
        )

    def pending(self) -> list[PendingApproval]:
        """Requests waiting for an answer, oldest first."""
        return sorted((entry for entry, _ in self._pending.values()), key=lambda e: e.created_at)

    def answer(self, request_id: str, decision: ApprovalDecision) -> bool:
        """Answer a request: `once`, `always` or `deny`. False if it is no longer pending."""
        if decision not in ("once", "always", "deny"):
            raise ValueError(f"decision must be once, always or deny, got {decision!r}")
        item = self._pending.get(request_id)
        if item is None:
            return False
        entry, future = item
        offer = always_allow_offer(entry.command)
        if decision == "always" and offer.prefix is None:
            raise ValueError(f"no always-allow for this command: {offer.reason}")
        del self._pending[request_id]
        if not future.done():
            future.set_result(decision)
        self._resolved(entry, decision, by="operator")
        if decision == "always" and offer.prefix is not None:
            # Exactly the prefix the inbox showed (see core.tools.always_allow).
            self.policy.add_allow(offer.prefix)
            # Other requests the new prefix now covers need no second answer.
            for other_id, (other, _) in list(self._pending.items()):
                if self.policy.decide(other.command) == "allow":
                    self._release(other_id, "once", by="policy")
        return True

    def _release(self, request_id: str, decision: ApprovalDecision, by: str) -> None:
        item = self._pending.pop(request_id, None)
        if item is not None:
            entry, future = item
            if not future.done():
                future.set_result(decision)
            self._resolved(entry, decision, by=by)

    def cancel_agent(self, agent_id: str) -> int:
        """Drop a stopped agent's requests and cancel its waiter; how many were dropped."""
        dropped = 0
        for request_id, (entry, future) in list(self._pending.items()):
            if entry.agent_id == agent_id:
                del self._pending[request_id]
                future.cancel()
                self._resolved(entry, "deny", by="cancelled")
                dropped += 1
        return dropped
