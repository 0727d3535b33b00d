"""Deliverables the default scenario's sub-agents write: a page, copy, a report, CSV, a script."""

from __future__ import annotations

import html
import re

CONTACT_MARKER = 'id="contact"'
MAIN_GUARD = 'if __name__ == "__main__":'
NEXT_STEPS = "## Next steps"


def slug(text: str, limit: int = 24) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:limit].strip("-")
    return out or "project"


def title(topic: str) -> str:
    return topic[:1].upper() + topic[1:]


def contact_section(topic: str) -> str:
    return (
        '    <section id="contact">\n'
        "      <h2>Talk to us</h2>\n"
        f"      <p>Questions about {html.escape(topic)}? We answer within a working day.</p>\n"
        '      <a class="button" href="mailto:hello@example.com">hello@example.com</a>\n'
        "    </section>\n"
    )


def landing_page(topic: str, contact: bool) -> str:
    t = html.escape(title(topic))
    features = [
        ("Set up in minutes", "Sign in, invite your team and import what you already have."),
        ("Works where you work", "Keyboard-first, fast on slow connections, usable offline."),
        ("Yours to keep", "Export everything as plain files at any time, no lock-in."),
    ]
    cards = "".join(f'        <li class="card"><h3>{a}</h3><p>{b}</p></li>\n' for a, b in features)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{t}</title>\n"
        '  <link rel="stylesheet" href="style.css">\n</head>\n<body>\n'
        f'  <header class="hero">\n    <h1>{t}</h1>\n'
        "    <p>Less busywork, more shipped work. Start free, upgrade when it pays off.</p>\n"
        '    <a class="button" href="#pricing">See pricing</a>\n  </header>\n'
        "  <main>\n"
        f'    <section id="features">\n      <h2>Why teams pick it</h2>\n      <ul class="grid">\n'
        f"{cards}      </ul>\n    </section>\n"
        '    <section id="pricing">\n      <h2>Pricing</h2>\n'
        "      <p><strong>Free</strong> for up to 3 people. <strong>Team</strong>: $8 per person "
        "per month, billed monthly, cancel any time.</p>\n    </section>\n"
        + (contact_section(topic) if contact else "")
        + "  </main>\n"
        f"  <footer><p>&copy; 2025 {t}</p></footer>\n</body>\n</html>\n"
    )


STYLE_CSS = """\
:root { --ink: #1d2330; --accent: #3b6ef5; --paper: #fbfbfd; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink);
  background: var(--paper); }
.hero { padding: 4rem 1.5rem; text-align: center; background: #eef2ff; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr));
  list-style: none; padding: 0; }
.card { padding: 1rem; border: 1px solid #d8dcea; border-radius: 8px; background: white; }
.button { display: inline-block; padding: .6rem 1.2rem; border-radius: 6px;
  background: var(--accent); color: white; text-decoration: none; }
footer { text-align: center; padding: 2rem; color: #667; }
"""


def landing_copy(topic: str, steered: bool) -> str:
    t = title(topic)
    text = (
        f"# {t}: landing page copy\n\n"
        "## Headline\nLess busywork, more shipped work.\n\n"
        "## Sub-headline\nOne place for your team's plans, notes and decisions, "
        "fast enough that people actually use it.\n\n"
        "## Benefits\n"
        "- Set up in minutes: import what you already have.\n"
        "- Keyboard-first and quick on slow connections.\n"
        "- Export everything as plain files, any time.\n\n"
        "## Call to action\nStart free for up to three people. No card needed.\n"
    )
    if steered:
        text += (
            "\n## FAQ\n**What does it cost?** Free for up to three people, then $8 per person "
            "per month, cancel any time.\n"
        )
    return text


def report_md(topic: str, next_steps: bool, steered: bool) -> str:
    text = (
        f"# {title(topic)}\n\n"
        "## Summary\n"
        f"This note covers {topic}: what exists in the workspace today, what is missing, "
        "and what to do first. It is based only on files in the workspace.\n\n"
        "## Findings\n"
        "1. The workspace has the raw material but no single overview of it.\n"
        "2. Naming is inconsistent between folders, which slows people down.\n"
        "3. Nothing checks the deliverables automatically yet.\n"
    )
    if steered:
        text += "\n## Scope\nKept deliberately short, as requested by the lead.\n"
    if next_steps:
        text += (
            f"\n{NEXT_STEPS}\n- Agree on one folder layout.\n"
            "- Add a check for each deliverable.\n- Review again in two weeks.\n"
        )
    return text


def csv_rows(topic: str, header: bool, rows: int = 12) -> str:
    categories = ["core", "growth", "support", "ops"]
    lines = ["id,name,category,value"] if header else []
    for i in range(1, rows + 1):
        lines.append(f"{i},{slug(topic, 12)}-{i:02d},{categories[i % 4]},{(i * 37) % 101}")
    return "\n".join(lines) + "\n"


def python_tool(topic: str, main_guard: bool) -> str:
    text = (
        f'"""Line, word and character counts for text files ({topic})."""\n\n'
        "import sys\nfrom pathlib import Path\n\n\n"
        "def stats(path: Path) -> tuple[int, int, int]:\n"
        '    text = path.read_text(encoding="utf-8", errors="replace")\n'
        "    return len(text.splitlines()), len(text.split()), len(text)\n\n\n"
        "def main(argv: list[str]) -> int:\n"
        "    if not argv:\n"
        '        print("usage: tool.py FILE...", file=sys.stderr)\n'
        "        return 2\n"
        "    for name in argv:\n"
        "        lines, words, chars = stats(Path(name))\n"
        '        print(f"{lines:8} {words:8} {chars:8} {name}")\n'
        "    return 0\n"
    )
    if main_guard:
        text += f"\n\n{MAIN_GUARD}\n    sys.exit(main(sys.argv[1:]))\n"
    return text
