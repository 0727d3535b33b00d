"""Claims in an agent's final report, checked against the engine's evidence ledger.

Three kinds of claim are recognised: tests passed ("All 42 tests pass", "pytest passes"),
a command ran ("I ran `make build`"), and a file was written or changed ("Fixed the bug
in calc.py"). A claim is unsupported when the ledger of the same attempt shows no such
command or write, or shows the command failing. The matcher is deliberately narrow:
hedged, negated or conditional sentences are skipped, and a file claim is not flagged
when a command the agent ran could have written the file. Missing a claim is better
than flagging a true one.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from core.events import CommandRan, FileChanged
from core.evidence import Ledger

# Sentences: split at line breaks and after . ! ? followed by a space.
_SENTENCE_SPLIT = re.compile(r"\n+|(?<=[.!?])\s+")
# "0 failed", "no failures", "without errors": positive, though they contain a negative word.
_POSITIVE_NEGATIVES = re.compile(
    r"\b(?:0|zero|no)\s+(?:failed|failures?|errors?|failing)\b|\bwithout\s+(?:any\s+)?(?:errors?|failures?)\b",
    re.I,
)
_HEDGES = re.compile(
    r"\b(?:not|no|never|none|cannot|can't|couldn't|could not|unable|didn't|did not|"
    r"haven't|hasn't|wasn't|weren't|isn't|aren't|won't|without|fail\w*|error\w*|broken|"
    r"should|would|could|might|may|will|please|once|if|unless|expect\w*|need\w*|"
    r"todo|to do|next step|recommend\w*|suggest\w*|try|trying|assum\w*|hopefully|"
    r"probably|likely|seems?|appears?|intend\w*|plan\w*|let me|going to)\b|\?|n't\b"
    r"|^\W*(?:run|use|execute|call|type|invoke|to)\b",  # an instruction to the reader
    re.I,
)

_TESTS_PASSED = re.compile(
    r"\b\d+\s+(?:unit\s+|integration\s+)?tests?\s+(?:now\s+|all\s+)?(?:pass(?:es|ed)?|succeed(?:s|ed)?)\b"
    r"|\b\d+\s+passed\b"
    r"|\b(?:all|the|every)\s+(?:\w+\s+){0,2}tests?\s+(?:now\s+|all\s+)?"
    r"(?:pass(?:es|ed)?|succeed(?:s|ed)?|are\s+(?:passing|green)|were\s+passing)\b"
    r"|\btests?\s+(?:now\s+|all\s+)?(?:pass(?:es|ed)?|are\s+(?:passing|green))\b"
    r"|\btest\s+suite\s+(?:now\s+)?(?:pass(?:es|ed)?|is\s+green|succeed(?:s|ed)?)\b"
    r"|\b(?:pytest|unittest|jest|vitest|mocha|cargo test|go test|npm test)\b[^.]{0,40}?"
    r"\b(?:pass(?:es|ed)?|green|succeed(?:s|ed)?)\b",
    re.I,
)
_RAN_TESTS = re.compile(
    r"\b(?:ran|executed|re-?ran|(?:have|'ve|has)\s+run)\s+(?:the\s+|all\s+)?(?:\w+\s+)?"
    r"(?:tests?|test\s+suite)\b",
    re.I,
)
_RAN_COMMAND = re.compile(r"\b(?:ran|executed|re-?ran|running)\s+`([^`\n]+)`", re.I)
_COMMAND_PASSED = re.compile(
    r"`([^`\n]+)`\s+(?:now\s+)?(?:pass(?:es|ed)?|succeed(?:s|ed)?|exit(?:s|ed)?\s+(?:with\s+)?(?:code\s+)?0|returns?\s+0|is\s+green)\b",
    re.I,
)
_WRITE_VERBS = (
    r"wrote|written|created|updated|modified|edited|changed|fixed|saved|rewrote|rewritten|"
    r"patched|corrected|implemented"
)
_PATH = r"`?((?:[\w.-]+/)*[\w-][\w.-]*\.[A-Za-z][\w]{0,5})`?"
_WROTE_FILE = re.compile(
    r"(?:^|\b(?:I|we|and|then|also|have|has|'ve|just)\s+|^[-*•\d.)\s]+)"
    r"(?:" + _WRITE_VERBS + r")\b(?:\s+(?:the\s+|a\s+|an\s+|new\s+|file\s+)?"
    # Up to three words of the object, never past "for"/"about"/...: in "wrote the guide
    # for `convert.py`" the file named is what the guide is about, not what was written.
    r"(?:(?!(?:for|of|about|from|with|on|by|using)\b)[\w'-]+\s+){0,3}?"
    r"(?:in|to|into|at|file|as)?\s*)?" + _PATH,
    re.I,
)

TEST_COMMAND = re.compile(
    r"pytest|py\.test|unittest|\btox\b|\bnox\b|\bjest\b|vitest|mocha|phpunit|rspec|\bctest\b|"
    r"\b(?:go|cargo|npm|yarn|pnpm|bun|deno|mvn|gradle|dotnet|mix)\s+(?:run\s+)?test\b|"
    r"\bmake\s+(?:test|check)\b|\btest[\w-]*\.(?:py|js|ts|sh)\b|\btests?/",
    re.I,
)
READ_ONLY = re.compile(
    r"^\s*(?:ls|cat|head|tail|wc|grep|rg|find|pwd|echo|stat|file|du|tree|which|"
    r"git\s+(?:status|diff|log|show))\b"
)


def _norm(command: str) -> str:
    return " ".join(command.split())


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s.strip()]


def _hedged(sentence: str) -> bool:
    return bool(_HEDGES.search(_POSITIVE_NEGATIVES.sub("", sentence)))


def _quote(sentence: str) -> str:
    s = " ".join(sentence.split()).strip("-*• ")
    return s if len(s) <= 80 else s[:79] + "…"


def _matching(ledger: Ledger, named: str) -> list[CommandRan]:
    want = _norm(named)
    return [c for c in ledger.commands if want in _norm(c.command) or _norm(c.command) in want]


def _status(c: CommandRan) -> str:
    return "timed out" if c.timed_out else f"exited {c.exit_code}"


def _failed(c: CommandRan) -> bool:
    return c.timed_out or c.exit_code != 0


def _file_matches(f: FileChanged, path: str) -> bool:
    p = path.lstrip("./")
    return f.path == p or f.path.endswith("/" + p) or p.endswith("/" + f.path)


def _may_have_written(ledger: Ledger, path: str) -> bool:
    """A command the agent ran could have written `path`: do not flag the claim."""
    name = PurePosixPath(path).name
    for c in ledger.commands:
        if name in c.command or ">" in c.command:
            return True
        if not READ_ONLY.match(c.command) and not TEST_COMMAND.search(c.command):
            return True
    return False


def unsupported_claims(text: str, ledger: Ledger) -> list[str]:
    """Each claim in `text` the ledger does not support, as one line for the CEO."""
    out: list[str] = []
    tests = [c for c in ledger.commands if TEST_COMMAND.search(c.command)]
    for sentence in _sentences(text):
        if _hedged(sentence):
            continue
        quote = _quote(sentence)
        tests_claimed = False
        if _TESTS_PASSED.search(sentence) or _RAN_TESTS.search(sentence):
            tests_claimed = True
            passed = bool(_TESTS_PASSED.search(sentence))
            what = "tests passed" if passed else "tests were run"
            if not tests:
                out.append(f"claims {what} (“{quote}”); this attempt ran no test command")
            elif passed and _failed(tests[-1]):
                out.append(
                    f"claims {what} (“{quote}”); the last test command "
                    f"`{_norm(tests[-1].command)}` {_status(tests[-1])}"
                )
        for named in _RAN_COMMAND.findall(sentence):
            if not _matching(ledger, named):
                out.append(f"claims it ran `{_norm(named)}`; this attempt ran no such command")
        for named in _COMMAND_PASSED.findall(sentence):
            if tests_claimed and TEST_COMMAND.search(named):
                continue  # the test claim above already covers it
            found = _matching(ledger, named)
            if not found:
                if not TEST_COMMAND.search(named) or not tests:
                    out.append(f"claims `{_norm(named)}` passed; this attempt ran no such command")
            elif all(_failed(c) for c in found):
                out.append(f"claims `{_norm(named)}` passed; it {_status(found[-1])}")
        for path in _WROTE_FILE.findall(sentence):
            if any(_file_matches(f, path) for f in ledger.files):
                continue
            if _may_have_written(ledger, path):
                continue
            if ledger.files:
                where = "wrote " + ", ".join(sorted({f.path for f in ledger.files})[:3])
                out.append(f"claims it wrote or changed {path}; this attempt only {where}")
            else:
                out.append(f"claims it wrote or changed {path}; this attempt wrote no files")
    return list(dict.fromkeys(out))  # one line per distinct problem
