"""The default scenario's planning: from a task text to a Script, and from a sub-agent's
task back to what that agent writes and runs.

The CEO names every output path (and, for the checked agent, the acceptance command) in
the sub-agent's task, so a sub-agent can rebuild its own spec from its task alone.
"""

from __future__ import annotations

import re

from core.simulator.scenarios import content as c
from core.simulator.scenarios.script import AgentSpec, CheckSpec, FileSpec, Script, SteerSpec

ROLE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (
        "research",
        ("research", "competitor", "market", "investigat", "survey", "compare", "find out"),
    ),
    ("analysis", ("analy", "benchmark", "measure", "audit", "review", "profile")),
    ("data", ("data", "csv", "spreadsheet", "dataset", "table", "metric")),
    ("writer", ("write", "copy", "blog", "article", "report", "docs", "readme", "announce")),
    (
        "coding",
        ("build", "code", "implement", "page", "site", "app", "script", "tool", "fix", "cli"),
    ),
]
WEB_WORDS = ("landing", "page", "site", "html", "web", "frontend")
ACCEPT_RE = re.compile(r"Acceptance check: `([^`]+)`")
PATH_RE = re.compile(r"deliverables/[\w./-]*\w")
TOPIC_RE = re.compile(
    r"\bfor ([^,.:;()\n]+?)(?=\s+(?:into|at|in|with|from|and|as)\s|[,.:;()\n]|$)", re.I
)


def topic_of(task: str) -> str:
    match = TOPIC_RE.search(task)
    if match and len(match.group(1).split()) <= 8:
        return match.group(1).strip()
    words = [w for w in re.findall(r"[A-Za-z0-9'-]+", task)][:6]
    return " ".join(words) if words else "the project"


def ceo_topic(task: str) -> str:
    """The subject of the user's task: a named product after "for", else the first clause."""
    match = TOPIC_RE.search(task)
    if match and len(match.group(1).split()) <= 6:
        return match.group(1).strip()
    clause = re.split(r"\band\b|[,;.:\n]", task, maxsplit=1)[0].split()[1:7]
    if clause:
        return " ".join(clause)
    return "Northwind Notes" if is_web(task) else "the project"


def is_web(task: str) -> bool:
    low = task.lower()
    return any(w in low for w in WEB_WORDS)


def detect_roles(task: str) -> list[str]:
    low = task.lower()
    roles = [role for role, words in ROLE_WORDS if any(w in low for w in words)]
    if is_web(task) and "coding" in roles and "writer" not in roles:
        roles.insert(roles.index("coding"), "writer")  # a landing page needs its copy
    if not any(r in roles for r in ("coding", "data", "writer")):
        roles.append("writer")
    if len(roles) < 2:
        roles.insert(0, "research")
    return roles[:4]


def _check_for(role: str, task: str) -> tuple[str, str] | None:
    """(command, feedback) checking the deliverable named in `task`, or None."""
    paths = PATH_RE.findall(task)
    if not paths:
        return None
    path = paths[0]
    if role == "coding" and path.endswith(".html"):
        return (
            f"grep -q '{c.CONTACT_MARKER}' {path}",
            f"The check `grep -q '{c.CONTACT_MARKER}' {path}` failed: the page has no contact "
            'section. Add a <section id="contact"> with a mailto link inside <main>, after '
            "pricing, and re-run the check before you report.",
        )
    if role == "coding":
        return (
            f"grep -q '__main__' {path}",
            f"The check `grep -q '__main__' {path}` failed: the script defines main() but never "
            f"calls it, so running it does nothing. Add the `{c.MAIN_GUARD}` guard that exits "
            "with main(sys.argv[1:]).",
        )
    if role == "data":
        return (
            f"grep -q '^id,name,category,value' {path}",
            f"The check `grep -q '^id,name,category,value' {path}` failed: the CSV has no "
            "header row. Add the header line id,name,category,value at the top.",
        )
    return (
        f"grep -q '^{c.NEXT_STEPS}' {path}",
        f"The check `grep -q '^{c.NEXT_STEPS}' {path}` failed: the report has no Next steps "
        "section. Add one with two or three concrete actions.",
    )


def task_for(role: str, task: str, topic: str) -> str:
    s = c.slug(topic)
    web = is_web(task)
    if role == "research":
        what = "competitors" if "competitor" in task.lower() else "the background"
        return (
            f"Research {what} for {topic}: look through the workspace (README, notes, docs) "
            "for what is already known and summarise the main points, each with where it came "
            "from. Say plainly what you could not confirm. Work from local files only."
        )
    if role == "analysis":
        return (
            f"Analyse the workspace for {topic}: measure the files by type and size with find "
            "and wc, and rank what matters most, each finding with its evidence."
        )
    if role == "data":
        return (
            f"Produce deliverables/data/{s}.csv for {topic}: a header row "
            "(id,name,category,value) and 12 sample rows. Check its shape with wc -l."
        )
    if role == "writer" and web:
        return (
            f"Write the landing page copy for {topic} into deliverables/site/copy.md: a "
            "headline, a sub-headline, three benefits and a call to action."
        )
    if role == "writer":
        return (
            f"Write a short report for {topic} into deliverables/{s}/report.md with the "
            "sections Summary, Findings and Next steps."
        )
    if web:
        return (
            f"Build a single-page landing page for {topic} at deliverables/site/index.html "
            "with deliverables/site/style.css: a hero, features, pricing and a contact "
            'section (id="contact", a mailto link is enough).'
        )
    return (
        f"Write a small command-line tool for {topic} at deliverables/{s}/tool.py that prints "
        "line, word and character counts of the files given as arguments."
    )


def agent_spec_for(role: str, task: str, steered: bool = False) -> AgentSpec:
    """What a default-scenario sub-agent writes and runs, rebuilt from its task text."""
    topic = topic_of(task)
    accept = ACCEPT_RE.search(task)
    files: list[FileSpec] = []
    for path in dict.fromkeys(PATH_RE.findall(task)):
        if path.endswith(".html"):
            files.append(
                FileSpec(
                    path,
                    c.landing_page(topic, True),
                    fix=("  </main>\n", c.contact_section(topic) + "  </main>\n"),
                )
            )
            if accept:
                files[-1].first_content = c.landing_page(topic, False)
        elif path.endswith(".css"):
            files.append(FileSpec(path, c.STYLE_CSS))
        elif path.endswith(".md") and "copy" in path:
            files.append(FileSpec(path, c.landing_copy(topic, steered)))
        elif path.endswith(".md"):
            first = c.report_md(topic, False, steered) if accept else None
            files.append(FileSpec(path, c.report_md(topic, True, steered), first))
        elif path.endswith(".csv"):
            first = c.csv_rows(topic, False) if accept else None
            files.append(FileSpec(path, c.csv_rows(topic, True), first))
        elif path.endswith(".py"):
            guard = f"\n\n{c.MAIN_GUARD}\n    sys.exit(main(sys.argv[1:]))\n"
            files.append(
                FileSpec(
                    path,
                    c.python_tool(topic, True),
                    fix=("    return 0\n", "    return 0\n" + guard),
                )
            )
            if accept:
                files[-1].first_content = c.python_tool(topic, False)
    commands: list[str] = []
    for f in files:
        if f.path.endswith(".html"):
            commands.append(f"grep -c '<section' {f.path}")
        elif f.path.endswith(".py"):
            commands.append(f"python3 -m py_compile {f.path}")
        elif f.path.endswith(".csv"):
            commands.append(f"wc -l {f.path}")
    if role == "analysis":
        commands = ["find . -maxdepth 2 -type f -name '*.md'", "ls -la"]
    report = _report(role, topic, [f.path for f in files], bool(accept))
    words = sorted(topic.split(), key=len, reverse=True) or ["TODO"]
    search = "competitor" if "competitor" in task.lower() else words[0]
    return AgentSpec(
        role=role, task=task, files=files, commands=commands, search=search, report=report
    )


def _report(role: str, topic: str, paths: list[str], checked: bool) -> str:
    if not paths:
        return ""
    main = paths[0]
    if main.endswith(".html"):
        sections = "hero, features and pricing" if checked else "hero, features, pricing, contact"
        return (
            f"Built the landing page for {topic} at {main} with a stylesheet beside it: "
            f"{sections}. It is plain HTML and CSS, no build step, and works without JavaScript."
        )
    if main.endswith(".py"):
        return f"Wrote {main}: a small tool that prints line, word and character counts per file."
    if main.endswith(".csv"):
        return f"Produced {main} with 12 sample rows for {topic} (id, name, category, value)."
    if "copy" in main:
        return (
            f"Wrote the landing page copy for {topic} to {main}: headline, sub-headline, three "
            "benefits and a call to action, in short plain sentences."
        )
    return f"Wrote the report for {topic} to {main}: summary, findings and recommendations."


def _gist(task: str) -> str:
    head = re.split(r":| at | into ", task, maxsplit=1)[0]
    return head[:1].lower() + head[1:]


def script_from_task(task: str) -> Script:
    """The default scenario's plan for the CEO: agents, a steer, a check that fails once."""
    topic = ceo_topic(task)
    if is_web(task) and not TOPIC_RE.search(task) and not topic[:1].isupper():
        topic = "Northwind Notes"  # a product name reads better on a page than "competitors"
    roles = detect_roles(task)
    tasks = [task_for(role, task, topic) for role in roles]
    target = next(
        i for role in ("coding", "data", "writer") for i, r in enumerate(roles) if r == role
    )
    found = _check_for(roles[target], tasks[target])
    check = None
    if found is not None:
        command, feedback = found
        tasks[target] += f" Acceptance check: `{command}`."
        check = CheckSpec(command, target, True, feedback, PATH_RE.findall(tasks[target])[0])
    agents = [agent_spec_for(r, t) for r, t in zip(roles, tasks, strict=True)]
    steer_at = next((roles.index(r) for r in ("writer", "research") if r in roles), 0)
    if roles[steer_at] == "writer" and is_web(task):
        steer_text = (
            "Keep the tone plain and concrete: no superlatives. "
            "Add a short FAQ with one line on pricing."
        )
    elif roles[steer_at] == "writer":
        steer_text = "Keep it short: one page, plain words, no jargon."
    else:
        steer_text = (
            "Narrow the scope to the three most relevant points and say where each is from."
        )
    names = ", ".join(f"{r} ({_gist(t)})" for r, t in zip(roles, tasks, strict=True))
    plan = (
        f"Here is the plan for {topic}. The work splits cleanly, so I'll run {len(roles)} "
        f"sub-agents in parallel: {names}. Once they report, I'll check the deliverables "
        "myself before answering."
    )
    made = "the page and its copy are template text" if is_web(task) else "the files are samples"
    return Script(
        agents=agents,
        plan=plan,
        check=check,
        steer=SteerSpec(steer_at, steer_text),
        placeholder=f"{made} from simulated models, not written for {topic}",
    )
