"""Documents the simulated writers produce: about the task's subject, clearly labelled as
placeholder text (no model wrote them), with one section per request a note made."""

from __future__ import annotations

import re

from core.simulator.scenarios.notes import Request

PLACEHOLDER = (
    "> Placeholder written by simulated models (no language model, no web access): the "
    "structure follows the task, the content is not researched. Replace it before use."
)


def title(text: str) -> str:
    return text[:1].upper() + text[1:]


def top_n(subject: str) -> int | None:
    match = re.search(r"\b(?:top|best|main|leading)\s+(\d{1,2})\b|\b(\d{1,2})\s+(?:best|top)\b",
                      subject, re.I)  # fmt: skip
    if not match:
        return None
    return max(1, min(int(match.group(1) or match.group(2)), 12))


def section_body(name: str, subject: str, note: str) -> str:
    if "faq" in name.lower():
        topic = re.sub(r"\s*faq\s*", " ", name, flags=re.I).strip().lower() or subject
        return (
            f"**Q: What should people know about {topic}?**\n"
            "A: (placeholder: a simulated model cannot write this answer; fill it in.)\n\n"
            f"**Q: Where can I find more on {topic}?**\n"
            "A: (placeholder.)\n"
        )
    return (
        f"(placeholder: added because the lead asked: “{note}”. A simulated model cannot "
        f"write real content on {name.lower()}; fill it in.)\n"
    )


def with_sections(text: str, subject: str, requests: list[Request], faq: str = "") -> str:
    """`text` with one new section per request that names one, unless it is already there."""
    for req in requests:
        if req.section is None:
            continue
        heading = f"## {req.section}"
        if re.search(rf"^{re.escape(heading)}\s*$", text, re.M | re.I):
            continue
        body = faq if faq and req.section == "FAQ" else section_body(req.section, subject, req.note)
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + body
    return text


def research_doc(subject: str, question: str) -> str:
    n = top_n(subject)
    lines = [f"# {title(subject)}", "", PLACEHOLDER, "", "## Question", "", question.strip(), ""]
    if n:
        lines += ["## The candidates", ""]
        lines += [
            f"{i}. (to research: candidate {i} for {subject}: what it is, strengths, "
            "weaknesses, a source)"
            for i in range(1, n + 1)
        ]
        lines.append("")
    else:
        lines += ["## Findings", "", f"- (to research: the main facts about {subject}, each "
                  "with its source)", ""]  # fmt: skip
    lines += [
        "## How to compare",
        "",
        "- Maturity and maintenance, documentation, community, performance, fit for the job.",
        "",
        "## Sources",
        "",
        "- None yet: simulated models cannot browse. Every item above needs a source.",
        "",
    ]
    return "\n".join(lines)


def writing_doc(subject: str, kind: str) -> str:
    lines = [
        f"# {title(subject)}",
        "",
        PLACEHOLDER,
        "",
        "## Summary",
        "",
        f"A {kind} about {subject}: what it is, why it matters, and what to do next.",
        "",
        "## Main points",
        "",
        f"1. (placeholder: the first point about {subject})",
        f"2. (placeholder: the second point about {subject})",
        f"3. (placeholder: the third point about {subject})",
        "",
        "## Next steps",
        "",
        f"- (placeholder: one concrete action on {subject})",
        "",
    ]
    return "\n".join(lines)


def usage_guide(module: str, summary: str) -> str:
    return "\n".join(
        [
            f"# {module}: usage",
            "",
            f"`{module}` {summary}.",
            "",
            "## Run it",
            "",
            "```",
            f"python {module} INPUT [OUTPUT]",
            "```",
            "",
            "## Test it",
            "",
            "```",
            "python -m pytest -q",
            "```",
            "",
        ]
    )


def placeholder_script(module: str, task: str) -> str:
    what = " ".join(task.split())
    return (
        f'"""PLACEHOLDER written by simulated models: it does not do the task yet.\n\n'
        f"Task: {what}\n"
        "The simulator can only write a few kinds of code for real (CSV to JSON, JSON to CSV,\n"
        'word count); run delegate with a real model (ANTHROPIC_API_KEY) for this one.\n"""\n\n'
        "import sys\n\n\n"
        "def main(argv: list[str]) -> int:\n"
        f'    print("{module}: not implemented (placeholder from simulated models)", '
        "file=sys.stderr)\n"
        "    return 1\n\n\n"
        'if __name__ == "__main__":\n'
        "    sys.exit(main(sys.argv[1:]))\n"
    )
