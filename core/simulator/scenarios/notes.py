"""What a steer, a retry note or a follow-up asks a simulated agent to change.

Only requests the simulator can really carry out are recognised: "add a FAQ section"
(a new section in a document, once), and a kind of code it can write ("make it actually
convert CSV to JSON"). Anything else is reported back as not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.simulator.scenarios.code_kinds import CodeKind, code_kind_for

ADD_RE = re.compile(
    r"\b(?:add|include|append|insert|put in|write)\s+(?:in\s+)?"
    r"(?:(?:an|a|the|one|some|another)\s+)?(?:(?:short|brief|small|little|new)\s+)*"
    r"(?:section\s+(?:on|about|for|called|named|titled)\s+)?"
    r"(?P<name>[A-Za-z][\w'&/ -]{0,40}?)"
    r"(?:\s+section)?(?=\s*(?:$|[.,;:!?()]|\s(?:with|to|at|that|which|about|on|for|"
    r"covering|listing|after|before|in|near|so)\b))",
    re.I,
)
NOT_SECTIONS = {"it", "this", "that", "them", "tests", "test", "a test", "more", "code"}


@dataclass(frozen=True)
class Request:
    note: str  # the note's text, as given
    section: str | None = None  # a section title to add
    code: CodeKind | None = None  # a kind of code to write instead


def _title(name: str) -> str:
    words = name.strip().split()
    out = []
    for w in words:
        out.append(w if w.isupper() else w[:1].upper() + w[1:])
    text = " ".join(out)
    return re.sub(r"\bFaq\b", "FAQ", text)


def section_request(note: str) -> str | None:
    """The section title a note asks to add ("also add a FAQ section" -> "FAQ")."""
    for match in ADD_RE.finditer(note):
        name = match.group("name").strip(" -'")
        if name.lower() in NOT_SECTIONS or not name:
            continue
        return _title(name)
    return None


def parse(note: str) -> Request:
    return Request(note.strip(), section_request(note), code_kind_for(note))


def parse_all(notes: list[str]) -> list[Request]:
    return [parse(n) for n in notes if n.strip()]
