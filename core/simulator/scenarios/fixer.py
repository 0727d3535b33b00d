"""The simulated coding agent for "fix the failing test": find the tests, run them, read
what fails, fix it if the mistake is trivially detectable, run them again, report.

It really fixes only one kind of mistake: a function named for an arithmetic operation
(add, subtract, multiply, divide) whose one-line body uses another operator. Anything else
it says plainly it could not fix, and changes nothing.
"""

from __future__ import annotations

import re

from core.simulator.reply import Reply, ToolCall
from core.simulator.scenarios.base import STEER_PREFIX, WRAP_UP_PREFIX, Call, Conversation
from core.simulator.scenarios.workers import first_line

PY_TEST = re.compile(r"(?:^|/)(?:test_[\w-]*\.py|[\w-]+_test\.py)$")
FAILED = re.compile(r"^(?:FAILED|ERROR) ([\w./-]+\.py)(?:::(\w+))?", re.M)
IMPORT = re.compile(r"^\s*(?:from ([\w.]+) import ([\w, ]+)|import ([\w.]+))", re.M)
SUMMARY = re.compile(r"^=*\s*(\d+ (?:failed|passed|error)[^=\n]*?)\s*=*$", re.M)
OPS = {"add": "+", "plus": "+", "sum": "+", "subtract": "-", "sub": "-", "minus": "-",
       "multiply": "*", "mul": "*", "times": "*", "product": "*",
       "divide": "/", "div": "/"}  # fmt: skip
ONE_LINER = (
    r"(def {name}\((\w+),\s*(\w+)\)[^:\n]*:\n(?:\s+\"\"\"[^\n]*\"\"\"\n)?\s+return )"
    r"(\2 *([-+*/]) *\3)[ \t]*(?:\n|$)"
)


def test_command(listing: str) -> str | None:
    lines = [ln.strip() for ln in listing.splitlines()]
    if any(PY_TEST.search(ln) for ln in lines) or any(
        ln.rstrip("/") == "tests" or ln.startswith("tests/") for ln in lines
    ):
        return "python -m pytest -q"
    if "package.json" in lines:
        return "npm test"
    return None


def trivial_fix(source: str, names: list[str]) -> tuple[str, str, str] | None:
    """(old_text, new_text, why) for a wrong operator in a function named for one."""
    for name in names:
        op = OPS.get(name.lower())
        if op is None:
            continue
        match = re.search(ONE_LINER.format(name=re.escape(name)), source)
        if match is None or match.group(5) == op:
            continue
        old = match.group(0)
        new = match.group(1) + f"{match.group(2)} {op} {match.group(3)}"
        new += "\n" if old.endswith("\n") else ""
        right = f"{match.group(2)} {op} {match.group(3)}"
        why = f"{name}() returned `{match.group(4)}` instead of `{right}`"
        return old, new, why
    return None


class FixFlow:
    """One attempt; the step is the number of turns so far, decided from earlier results."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv

    def _out(self, step: int, name: str) -> list[Call]:
        turns = self.conv.turns
        calls = turns[step].calls if step < len(turns) else []
        return [c for c in calls if c.name == name and c.outcome is not None]

    def _text(self, step: int, name: str) -> str:
        return "\n".join(c.outcome.text for c in self._out(step, name) if c.outcome)

    def command(self) -> str | None:
        return test_command(self._text(0, "list_files"))

    def failing(self) -> tuple[list[str], list[str]]:
        """(test files, test names) that failed in the first run."""
        out = self._text(1, "run_command")
        files = list(dict.fromkeys(m.group(1) for m in FAILED.finditer(out)))
        names = [m.group(2) for m in FAILED.finditer(out) if m.group(2)]
        return files, names

    def sources(self) -> list[str]:
        """The modules the failing test files import, as paths."""
        paths: list[str] = []
        for call in self._out(2, "read_file"):
            assert call.outcome is not None
            for m in IMPORT.finditer(call.outcome.text):
                mod = m.group(1) or m.group(3)
                if mod and mod.split(".")[0] not in ("pytest", "os", "sys", "json", "re"):
                    paths.append(mod.replace(".", "/") + ".py")
        return list(dict.fromkeys(paths))[:2]

    def fix(self) -> tuple[str, str, str, str] | None:
        """(path, old, new, why) or None when the mistake is not trivially detectable."""
        _, tests = self.failing()
        called = set()
        for call in self._out(2, "read_file"):
            assert call.outcome is not None
            called |= set(re.findall(r"\b(\w+)\(", call.outcome.text))
        names = sorted(
            {n for n in called if n.lower() in OPS}
            | {t.removeprefix("test_") for t in tests if t.removeprefix("test_").lower() in OPS}
        )
        for call in self._out(3, "read_file"):
            assert call.outcome is not None
            found = trivial_fix(call.outcome.text, names)
            if found:
                return (str(call.input.get("path")), *found)
        return None

    def reply(self) -> Reply:
        conv = self.conv
        n = len(conv.turns)
        lead = "".join(
            f"Got it: {s} I'll keep to that; my job stays the failing test.\n\n"
            for s in conv.notes_with(STEER_PREFIX)
        )
        if conv.notes_with(WRAP_UP_PREFIX):
            return Reply().text(lead + self.report())
        step = self._step(n)
        if step is None:
            return Reply().text(lead + self.report())
        text, calls = step
        reply = Reply().text(lead + text)
        reply.blocks.extend(c for c in calls if conv.offers(c.name))
        return reply

    def _step(self, n: int) -> tuple[str, list[ToolCall]] | None:
        if n == 0:
            return "I'll find the project's tests first.", [ToolCall("list_files", {"path": "."})]
        cmd = self.command()
        if cmd is None:
            return None
        if n == 1:
            return f"Running the tests: `{cmd}`.", [ToolCall("run_command", {"command": cmd})]
        files, _ = self.failing()
        if not files:
            return None
        if n == 2:
            return (
                "Reading the failing test to see what it expects.",
                [ToolCall("read_file", {"path": p}) for p in files[:2]],
            )
        if n == 3:
            sources = self.sources()
            if not sources:
                return None
            return (
                "Reading the code under test.",
                [ToolCall("read_file", {"path": p}) for p in sources],
            )
        found = self.fix()
        if found is None:
            return None
        path, old, new, why = found
        if n == 4:
            return (
                f"Found it: {why}. Fixing that one line.",
                [ToolCall("edit_file", {"path": path, "old_text": old, "new_text": new})],
            )
        if n == 5:
            return "Running the tests again.", [ToolCall("run_command", {"command": cmd})]
        return None

    def report(self) -> str:
        cmd = self.command()
        if cmd is None:
            return (
                "I found no tests in the workspace (no test_*.py, tests/ or package.json), so "
                "there is no failing test to fix and nothing I can verify."
            )
        first = self._text(1, "run_command")
        parts = [f"Ran `{cmd}`: {_summary(first)}."]
        files, names = self.failing()
        ran = self._out(1, "run_command")
        broke = any(c.outcome and c.outcome.is_error for c in ran)
        if not files and broke:
            parts.append(
                "I could not tell from that which test fails (the command itself failed or was "
                "refused), so I changed nothing."
            )
        elif not files and first:
            parts.append("Nothing failed, so I changed nothing.")
        found = self.fix() if files else None
        edited = [c for c in self._out(4, "edit_file") if c.outcome and not c.outcome.is_error]
        if found and edited:
            path, _, _, why = found
            again = self._text(5, "run_command")
            parts.append(f"The cause: {why}. I fixed it in `{path}`.")
            if again:
                parts.append(f"Ran `{cmd}` again: {_summary(again)}.")
        elif files:
            which = ", ".join(names or files)
            parts.append(
                f"Failing: {which}. I read the test and the code under test but could not find "
                "a cause I can fix: simulated models cannot fix arbitrary code, so I changed "
                "nothing. This needs a real model or a person."
            )
        parts.append(f"Test command: `{cmd}`")
        return "\n\n".join(parts)


def _summary(output: str) -> str:
    if not output.strip():
        return "no output"
    match = SUMMARY.findall(output)
    if match:
        return str(match[-1])
    return first_line(output, 120)
