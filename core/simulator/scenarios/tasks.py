"""Reading a task text: what kind of work it asks for, its subject, and the file names
that follow from it ("a script that converts CSV to JSON" is `convert.py`).

The simulator can really do only a few kinds of work (see code_kinds.py); everything else
is planned as placeholder work and labelled as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.simulator.scenarios.code_kinds import CODE_KINDS, CodeKind, code_kind_for

SUBJECT_LEAD = re.compile(
    r"^(?:please\s+)?(?:(?:can|could) you\s+)?(?:also\s+)?"
    r"(?:research|investigate|survey|compare|analy[sz]e|review|write(?: up)?|draft|create|"
    r"make|build|produce|prepare|find|summari[sz]e|document|explain|list|outline|plan)\s+",
    re.I,
)
ABOUT = re.compile(r"\b(?:about|on|for|covering|of)\s+(.+)$", re.I)
FIX_WORDS = re.compile(
    r"\b(?:fix|repair|debug|make (?:the )?tests? pass|failing|broken|bug)\b", re.I
)
TEST_WORDS = re.compile(r"\btests?\b|\bbug\b|\bfailing\b|\bbroken\b|\bcrash", re.I)
WEB_WORDS = re.compile(r"\b(?:landing|page|site|website|html|frontend)\b", re.I)
RESEARCH_WORDS = re.compile(
    r"\b(?:research|investigat\w*|survey|compare|comparison|competitors?|market|find out|"
    r"top \d+|best|options|alternatives)\b",
    re.I,
)
WRITING_WORDS = re.compile(
    r"\b(?:write|draft|blog|article|post|essay|report|guide|docs?|documentation|readme|"
    r"announcement|copy|summary|faq|newsletter|email|letter|plan|proposal|brief)\b",
    re.I,
)
CODE_WORDS = re.compile(
    r"\b(?:script|tool|cli|program|function|module|library|app|implement|code|parser|"
    r"converter|command[- ]line|python|bash|javascript|api)\b",
    re.I,
)
DATA_WORDS = re.compile(r"\b(?:data|dataset|export|spreadsheet|table|metrics?)\b", re.I)
STOP = {
    "a", "an", "the", "that", "which", "to", "of", "for", "and", "or", "in", "on", "with",
    "me", "us", "please", "some", "this", "these", "it", "its", "into", "from", "about",
    "python", "script", "tool", "small", "simple", "quick", "write", "build", "make",
    "create", "program", "cli", "command", "line", "can", "you", "also",
}  # fmt: skip


@dataclass(frozen=True)
class TaskKind:
    """What a task asks for. `kind` is one of fix, code, web, research, writing, data."""

    kind: str
    subject: str
    code: CodeKind | None = None  # a kind of code the simulator really writes

    @property
    def real(self) -> bool:
        """True when the simulator can do this work for real (and test it)."""
        return self.code is not None


def subject_of(task: str) -> str:
    """The task's subject in its own words: "Research the top 5 Python web frameworks"
    is about "the top 5 Python web frameworks"."""
    text = " ".join(task.split()).strip().rstrip(".!?")
    text = re.split(r"(?<=[a-z0-9)])[.;:]\s", text, maxsplit=1)[0]
    text = SUBJECT_LEAD.sub("", text, count=1)
    about = ABOUT.search(text)
    if about and len(about.group(1).split()) >= 1 and not text.lower().startswith("the "):
        head = text[: about.start()].strip()
        if re.search(WRITING_WORDS, head) or len(head.split()) <= 2:
            text = about.group(1)
    words = text.split()
    return " ".join(words[:10]) if words else "the task"


def slug(text: str, limit: int = 40) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ("a", "an", "the")]
    out = "-".join(words)[:limit].strip("-")
    return out or "notes"


def module_name(task: str) -> str:
    """A Python file name from a task's own words: "a script that resizes images" is
    `resize_images.py`."""
    text = re.sub(r"^.*?\b(?:that|which|to)\b\s+", "", task, count=1, flags=re.I)
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP][:3]
    if words and words[0].endswith(("sses", "shes", "ches", "xes")):
        words[0] = words[0][:-2]
    elif words and words[0].endswith("s") and not words[0].endswith("ss") and len(words) > 1:
        words[0] = words[0][:-1]
    return ("_".join(words) or "main") + ".py"


def classify(task: str) -> TaskKind:
    subject = subject_of(task)
    if FIX_WORDS.search(task) and TEST_WORDS.search(task):
        return TaskKind("fix", subject)
    code = code_kind_for(task)
    if code is not None:
        return TaskKind("code", subject, code)
    if WEB_WORDS.search(task) and re.search(r"\b(?:build|make|create|page|site)\b", task, re.I):
        return TaskKind("web", subject)
    if RESEARCH_WORDS.search(task):
        return TaskKind("research", subject)
    if CODE_WORDS.search(task) and not re.search(r"\b(?:blog|article|post|essay)\b", task, re.I):
        return TaskKind("code", subject)
    if DATA_WORDS.search(task):
        return TaskKind("data", subject)
    return TaskKind("writing", subject)


__all__ = ["CODE_KINDS", "TaskKind", "classify", "module_name", "slug", "subject_of"]
