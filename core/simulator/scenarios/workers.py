"""The scripted sub-agent: explore the workspace, write its files, run its commands, report.

Each assistant turn is one step; the step to take is the number of turns so far. Steps
may read the results of earlier steps (a listing decides what to read). Steers, the
wrap-up notice and tool errors change the text and, for wrap-up, end the work early.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.config import DEFAULT_ALLOW
from core.simulator.reply import Reply, ToolCall
from core.simulator.scenarios import docs
from core.simulator.scenarios.base import STEER_PREFIX, WRAP_UP_PREFIX, Call, Conversation
from core.simulator.scenarios.notes import Request
from core.simulator.scenarios.script import AgentSpec
from core.tools.policy import CommandPolicy

Step = tuple[str, Callable[[], list[ToolCall]]]
READABLE = re.compile(r"[\w./-]+\.(?:md|txt|rst|toml|json|csv|py|html)\b")
BACKTICK = re.compile(r"`([^`]+)`")
# A sub-agent reruns a command named in the lead's feedback only if the app's default
# policy would run it without asking.
_DEFAULT_POLICY = CommandPolicy("deny", DEFAULT_ALLOW)
PROJECT_TESTS = "python -m pytest -q"


def first_line(text: str, limit: int = 100) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "(no output)")
    return line if len(line) <= limit else line[: limit - 1] + "…"


TEST_LISTING = re.compile(r"(?:^|[\s/])(?:test_\w+\.py|\w+_test\.py|tests/|package\.json)", re.M)


def has_tests(listing: str, own: list[str]) -> bool:
    """A listing shows a test suite of the project's own (not just the files we wrote)."""
    for line in listing.splitlines():
        name = line.strip().rstrip("/").split()[-1] if line.strip() else ""
        if name and name not in own and TEST_LISTING.search(line.strip() + " "):
            return True
    return False


def refused(call: Call) -> bool:
    """A command the policy or the operator did not let run (no exit code: it never ran)."""
    out = call.outcome
    if call.name != "run_command" or out is None or not out.is_error:
        return False
    if out.text.lstrip().startswith("{"):  # a result with an exit code: it ran
        return False
    return any(word in out.text for word in ("denied", "not allowed"))


def is_allowed(command: str) -> bool:
    return _DEFAULT_POLICY.decide(command) == "allow"


def files_in_listing(text: str) -> list[str]:
    names = [m for m in READABLE.findall(text) if not m.startswith("deliverables/")]
    names.sort(key=lambda n: (not n.lower().startswith("readme"), n.count("/"), n))
    return list(dict.fromkeys(names))


def _problem(call: Call) -> str:
    what = first_line(str(call.input.get("path") or call.input.get("command") or ""), 60)
    return f"{call.name} {what} → {first_line(call.outcome.text if call.outcome else '', 80)}"


def _call(name: str, **args: object) -> ToolCall:
    return ToolCall(name, dict(args))


class WorkerFlow:
    """The steps of one sub-agent attempt, filtered to the tools it was offered."""

    def __init__(
        self, conv: Conversation, spec: AgentSpec, requests: list[Request] | None = None
    ) -> None:
        self.conv = conv
        self.spec = spec
        self.requests = requests or []
        steps = [s for s in self._plan() if self._offered(s)]
        self.steps = self._with_revision(steps)

    def _with_revision(self, steps: list[Step]) -> list[Step]:
        """A steer that arrives after the files were written adds a step that rewrites them."""
        steer_at = next(
            (
                i
                for i, t in enumerate(self.conv.turns)
                if any(n.startswith(STEER_PREFIX) for n in t.notes)
            ),
            None,
        )
        if steer_at is None or steer_at + 1 > len(steps):
            return steps
        written = {
            str(c.input.get("path")): str(c.input.get("content"))
            for t in self.conv.turns[: steer_at + 1]
            for c in t.calls
            if c.name == "write_file"
        }
        if not written:
            return steps
        stale = [
            f
            for f in self.spec.files
            if written.get(f.path) != (f.first_content or f.content)
            and written.get(f.path) != f.content
        ]
        if not stale or not self.conv.offers("write_file"):
            return steps
        revise: Step = (
            "Revising what I already wrote to follow the lead's note.",
            lambda: [_call("write_file", path=f.path, content=f.content) for f in stale],
        )
        return [*steps[: steer_at + 1], revise, *steps[steer_at + 1 :]]

    def _offered(self, step: Step) -> bool:
        return bool(step[1]())

    def _result(self, step: int) -> list[Call]:
        turns = self.conv.turns
        return turns[step].calls if step < len(turns) else []

    def _filter(self, calls: list[ToolCall]) -> list[ToolCall]:
        return [c for c in calls if self.conv.offers(c.name)]

    def _plan(self) -> list[Step]:
        spec, retry = self.spec, self.conv.feedback is not None
        paths = [f.path for f in spec.files]
        steps: list[Step] = []
        if retry:
            first = self.conv.feedback or ""
            steps.append(
                (
                    f"Picking up the feedback: {first_line(first, 160)} First I'll re-read what I "
                    "wrote last time.",
                    lambda: self._filter(
                        [_call("read_file", path=p) for p in paths]
                        or [_call("list_files", path=".")]
                    ),
                )
            )
        else:
            steps.append(
                (
                    "I'll start by looking at what is already in the workspace.",
                    lambda: self._filter(
                        [
                            _call("list_files", path="."),
                            _call("search_files", pattern=spec.search or spec.role, path="."),
                        ]
                    ),
                )
            )
        if spec.update:
            steps[0] = (
                f"I'll read `{spec.update}` first and keep everything already in it.",
                lambda: self._filter([_call("read_file", path=spec.update)]),
            )
            steps.append((f"Adding what was asked to `{spec.update}`.", self._update))
        elif spec.files:
            steps.append((f"Writing {', '.join(paths)}.", self._writes))
        elif not retry:
            steps.append(("Reading the most relevant files.", self._reads))
        commands = list(spec.commands) + ([] if retry else list(spec.smoke))
        if self.project_tests:
            commands.append(PROJECT_TESTS)
        if retry:
            commands += [m for m in BACKTICK.findall(self.conv.feedback or "") if is_allowed(m)]
        commands = list(dict.fromkeys(commands))  # as the plan wrote them: the app's policy decides
        if commands:
            steps.append(
                (
                    "Checking the result.",
                    lambda: self._filter([_call("run_command", command=c) for c in commands]),
                )
            )
        return steps

    @property
    def project_tests(self) -> bool:
        """A coding agent that saw the project's own tests in its first listing runs them."""
        if self.spec.role != "coding" or self.spec.bug or not self.conv.offers("run_command"):
            return False
        listing = " ".join(
            c.outcome.text for c in self._result(0) if c.outcome and c.name == "list_files"
        )
        return has_tests(listing, [f.path for f in self.spec.files])

    def read_back(self, path: str) -> str | None:
        """What a successful read_file of `path` in this attempt returned."""
        for call in reversed(self.conv.calls):
            ok = call.outcome is not None and not call.outcome.is_error
            if call.name == "read_file" and call.input.get("path") == path and ok:
                assert call.outcome is not None
                return call.outcome.text
        return None

    def _writes(self) -> list[ToolCall]:
        calls = []
        retry = self.conv.feedback is not None
        for f in self.spec.files:
            before = self.read_back(f.path) if retry else None
            if retry and f.fix and self.conv.offers("edit_file"):
                if before is None or f.fix[0] in before:
                    calls.append(
                        _call("edit_file", path=f.path, old_text=f.fix[0], new_text=f.fix[1])
                    )
            elif retry and before is not None and self.spec.sections:
                text = docs.with_sections(before, self.spec.subject, self.requests, self.spec.faq)
                if text != before:
                    calls.append(_call("write_file", path=f.path, content=text))
            elif retry and before is not None and before.rstrip("\n") == f.content.rstrip("\n"):
                continue
            elif not retry and f.first_content is not None:
                calls.append(_call("write_file", path=f.path, content=f.first_content))
            else:
                calls.append(_call("write_file", path=f.path, content=f.content))
        if not calls and self.spec.files:  # nothing to change: look once more, then report
            calls.append(_call("read_file", path=self.spec.files[0].path))
        return self._filter(calls)

    def _update(self) -> list[ToolCall]:
        spec = self.spec
        before = self.read_back(spec.update)
        base = before if before is not None else f"# {docs.title(spec.subject)}\n"
        text = docs.with_sections(base, spec.subject, self.requests, spec.faq)
        if text == before:
            return self._filter([_call("read_file", path=spec.update)])
        return self._filter([_call("write_file", path=spec.update, content=text)])

    def _reads(self) -> list[ToolCall]:
        listing = " ".join(
            c.outcome.text for c in self._result(0) if c.outcome and c.name == "list_files"
        )
        names = files_in_listing(listing)[:2] or ["README.md"]
        return self._filter([_call("read_file", path=n) for n in names])

    def reply(self, obey_wrap_up: bool = True) -> Reply:
        conv = self.conv
        lead = "".join(self._acks())
        wrap = obey_wrap_up and conv.notes_with(WRAP_UP_PREFIX)
        index = len(conv.turns)
        if wrap or index >= len(self.steps):
            return Reply().text(lead + self.report(wrapped=bool(wrap)))
        text, calls = self.steps[index]
        reply = Reply().text(lead + text)
        reply.blocks.extend(calls())
        return reply

    def _acks(self) -> list[str]:
        out = []
        for steer in self.conv.notes_with(STEER_PREFIX):
            if steer in self.spec.unapplied:
                out.append(
                    f"Got it: {steer} Simulated models cannot carry that out, so I'll leave the "
                    "work as it is and say so in my report.\n\n"
                )
            elif self.spec.switched_to:
                out.append(f"Got it: {steer} Switching to `{self.spec.switched_to}`.\n\n")
            elif self.spec.sections:
                names = ", ".join(f"“{n}”" for n in self.spec.sections)
                out.append(f"Got it: {steer} Adding the section {names}.\n\n")
            else:
                out.append(f"Got it: {steer} I'll apply that to the rest of the work.\n\n")
        for call in self.conv.last_calls:
            if call.outcome and call.outcome.is_error:
                out.append(
                    f"The {call.name} call failed ({first_line(call.outcome.text)}); "
                    "I'll carry on without it.\n\n"
                )
        return out

    def report(self, wrapped: bool = False) -> str:
        conv, spec = self.conv, self.spec
        calls = conv.calls
        ok = [c for c in calls if c.outcome and not c.outcome.is_error]
        written = [str(c.input.get("path")) for c in ok if c.name in ("write_file", "edit_file")]
        ran = [c for c in calls if c.name == "run_command" and c.outcome]
        problems = [c for c in calls if c.outcome and c.outcome.is_error]
        parts = []
        if wrapped:
            parts.append("Wrapping up as asked; here is what I have so far.")
        edits = [c for c in ok if c.name == "edit_file"]
        if spec.bug and conv.feedback is not None and edits:
            parts.append(f"Fixed what the check caught: {spec.bug}.")
        elif spec.report and conv.feedback is not None and not spec.sections:
            parts.append(f"Worked from the feedback: {first_line(conv.feedback, 200)}")
        parts.append(spec.report or self._summary(ok))
        if written:
            parts.append("Files: " + ", ".join(dict.fromkeys(written)) + ".")
        for c in ran:
            assert c.outcome is not None
            if refused(c):  # it never ran: say so, claim nothing
                parts.append(f"Not run (not approved): `{c.input.get('command')}`.")
                continue
            status = "failed: " if c.outcome.is_error else ""
            parts.append(f"Ran `{c.input.get('command')}`: {status}{first_line(c.outcome.text)}")
        problems = [c for c in problems if not refused(c)]
        if problems:
            parts.append("Problems: " + "; ".join(_problem(c) for c in problems) + ".")
        tests_run = any(PROJECT_TESTS in str(c.input.get("command")) for c in ran)
        if spec.bug and not tests_run:
            parts.append(f"Not run: the tests (`{PROJECT_TESTS}`).")
        if spec.sections and written:
            names = ", ".join(f"“{n}”" for n in spec.sections)
            parts.append(f"Applied the notes: added the section(s) {names}.")
        if spec.switched_to:
            parts.append(f"Applied the note: switched to `{spec.switched_to}`.")
        for note in spec.unapplied:
            parts.append(f"Could not apply (simulated models cannot do this): “{note}”.")
        steers = conv.all_notes_with(STEER_PREFIX)
        legacy = not (spec.sections or spec.switched_to or spec.unapplied or spec.update)
        if steers and legacy and not spec.bug:
            parts.append("Applied the lead's note: " + " / ".join(steers))
        if tests_run:
            parts.append(f"Test command: `{PROJECT_TESTS}`")
        if wrapped and len(conv.turns) < len(self.steps):
            parts.append(f"Not done: {len(self.steps) - len(conv.turns)} planned step(s) left.")
        return "\n\n".join(parts)

    def _summary(self, ok: list[Call]) -> str:
        spec, role = self.spec, self.spec.role
        retry = self.conv.feedback is not None
        if spec.files:
            if retry:
                fix = first_line(self.conv.feedback or "", 200)
                return f"Fixed what the feedback pointed out ({fix}) and re-checked it."
            return f"Done: wrote {', '.join(f.path for f in spec.files)}."
        reads = [c for c in ok if c.name == "read_file"]
        found = [c for c in ok if c.name == "search_files"]
        lines = [f"What the workspace says ({first_line(spec.task, 70)}):"]
        for c in reads:
            assert c.outcome is not None
            body = [ln.strip() for ln in c.outcome.text.splitlines() if ln.strip()][:3]
            lines.append(f"- {c.input.get('path')}: " + (" / ".join(body) or "(empty)"))
        for c in found:
            assert c.outcome is not None
            hits = [ln.strip() for ln in c.outcome.text.splitlines() if ln.strip()]
            if "no match" in c.outcome.text.lower()[:40]:
                hits = []
            quoted = "; ".join(first_line(h, 80) for h in hits[:3])
            lines.append(f"- {len(hits)} line(s) match {c.input.get('pattern')!r}: {quoted}")
        if role in ("research", "generic"):
            lines.append(
                "Not confirmed: current prices and feature lists (no web access here); treat "
                "anything above that is not quoted from a file as a lead to verify."
            )
        if role == "analysis":
            lines.append("Ranked: the measurements above are the evidence; nothing was guessed.")
        return "\n".join(lines)
