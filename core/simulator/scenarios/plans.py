"""The default scenario's plans, from the task's words: which agents, what each one is
told (file names in backticks, the subject in quotes, so an agent rebuilds its own work
from its task alone), the CEO's check, and what in the result is placeholder work.

Landing pages and data exports keep the older plans in planner.py.
"""

from __future__ import annotations

import re

from core.simulator.scenarios import docs
from core.simulator.scenarios.code_kinds import CodeKind, code_kind_named
from core.simulator.scenarios.notes import Request
from core.simulator.scenarios.script import AgentSpec, CheckSpec, FileSpec, Script, SteerSpec
from core.simulator.scenarios.tasks import classify, module_name, slug

TEST_COMMAND = "python -m pytest -q"
FIX_MARK = "Run this project's tests"
FILE_RE = re.compile(r"`([\w./-]+\.(?:py|md|txt|json|csv|html|css|js|toml))`")
SUBJECT_RE = re.compile(r"“([^”]+)”")
DOC_KIND_RE = re.compile(r"\bthe ([a-z]+(?: post)?) about “", re.I)
WRITING_KINDS = ("blog post", "article", "essay", "report", "guide", "newsletter",
                 "summary", "proposal", "brief", "plan", "announcement", "email", "letter",
                 "readme")  # fmt: skip

FIX_FEEDBACK = "Fix the code under test, not the tests, and run `{cmd}` again before you report."


def _doc_kind(task: str) -> str:
    low = task.lower()
    return next((k for k in WRITING_KINDS if k in low), "note")


def _fix_script(task: str) -> Script:
    agent = AgentSpec(
        role="coding",
        task=(
            f"{FIX_MARK}, find what fails and fix the code under test (do not change or "
            "weaken the tests), then run the tests again. End your report with the exact "
            "command as `Test command: <command>` and its result."
        ),
    )
    return Script(
        agents=[agent],
        plan=(
            "This is one focused job, so one coding agent: it finds and runs the project's "
            "tests and fixes what fails. Then I run the tests myself: a passing test run after "
            "its last change is the only thing I will call verified."
        ),
        check=CheckSpec("", 0, False, FIX_FEEDBACK),
        placeholder=(
            "the simulator cannot fix arbitrary code (it fixes only a wrong operator in a "
            "function named for its operation), so what still fails needs a real model"
        ),
    )


def _code_script(task: str, kind: CodeKind | None) -> Script:
    agents: list[AgentSpec] = []
    steer = None
    if kind is not None:
        agents.append(
            AgentSpec(
                role="coding",
                task=(
                    f"Write `{kind.module}`, a Python script that {kind.summary}, and pytest "
                    f"tests for it in `{kind.test_file}` (cover quoted or unusual input and "
                    "empty input). Standard library only. Acceptance check: "
                    f"`{TEST_COMMAND}`."
                ),
            )
        )
        check: CheckSpec | None = CheckSpec(TEST_COMMAND, 0, True, FIX_FEEDBACK, kind.module)
        placeholder = ""
        if re.search(r"\b(?:guide|docs?|documentation|readme|usage|explain)\b", task, re.I):
            guide = f"deliverables/{kind.stem}-guide.md"
            agents.append(
                AgentSpec(
                    role="writer",
                    task=(
                        f"Write a short usage guide for `{kind.module}` into `{guide}`: what "
                        "it does, how to run it and how to test it."
                    ),
                )
            )
            steer = SteerSpec(1, "Add an FAQ section with one line on quoted fields.")
        plan = (
            f"I'll have a coding agent write `{kind.module}` with its own tests"
            + (" and a writer do the usage guide in parallel" if len(agents) > 1 else "")
            + f". When they report, I run `{TEST_COMMAND}` myself before I call it done."
        )
    else:
        module = module_name(task)
        agents.append(
            AgentSpec(
                role="coding",
                task=(
                    f"Write `{module}`: a Python script for this task: “{' '.join(task.split())}”."
                    f" Check it compiles with `python3 -m py_compile {module}` and say plainly "
                    "what it does not do yet."
                ),
            )
        )
        check = None
        placeholder = (
            f"`{module}` is placeholder code: it does not do the task (the simulator writes "
            "real code only for CSV to JSON, JSON to CSV and word counts)"
        )
        plan = (
            f"One coding agent for `{module}`. If the workspace has tests, it runs them and "
            "I run them again myself."
        )
    return Script(agents=agents, plan=plan, check=check, steer=steer, placeholder=placeholder)


def _doc_script(task: str, research: bool) -> Script:
    kind = classify(task)
    subject = kind.subject
    path = f"deliverables/{slug(subject)}.md"
    agents: list[AgentSpec] = []
    if research:
        agents.append(
            AgentSpec(
                role="research",
                task=(
                    f"Research “{subject}”: look through the workspace (README, notes, docs) "
                    "for what is already known and summarise it, each point with where it came "
                    "from. Say plainly what you could not confirm."
                ),
            )
        )
        what = "the question, the candidates or findings, how to compare them, and sources"
        agents.append(
            AgentSpec(
                role="writer",
                task=f"Write the research note about “{subject}” into `{path}`: {what}.",
            )
        )
        steer = SteerSpec(1, "Add a section on open questions.")
    else:
        doc = _doc_kind(task)
        agents.append(
            AgentSpec(
                role="writer",
                task=(
                    f"Write the {doc} about “{subject}” into `{path}`: a summary, the main "
                    "points and next steps."
                ),
            )
        )
        steer = SteerSpec(0, "Add a short FAQ section.")
    plan = (
        f"The subject is “{subject}”. "
        + (
            "A research agent gathers what the workspace says while a writer drafts "
            if research
            else "A writer drafts "
        )
        + f"`{path}`. I'll read it before I answer."
    )
    return Script(
        agents=agents,
        plan=plan,
        steer=steer,
        read=path,
        placeholder=(
            f"`{path}` follows the task's structure but its content is placeholder text, not "
            "research or real writing"
        ),
    )


def new_script(task: str) -> Script | None:
    """The plan for `task`, or None for the kinds planner.py plans (pages, data)."""
    kind = classify(task)
    if kind.kind == "fix":
        return _fix_script(task)
    if kind.kind == "code":
        return _code_script(task, kind.code)
    if kind.kind in ("research", "writing"):
        return _doc_script(task, kind.kind == "research")
    return None


def followup_script(text: str, earlier_paths: list[str]) -> Script:
    """New work after the answer: an edit of an earlier document when the follow-up asks to
    add something and there is one, else a plan of its own."""
    docs_paths = [p for p in earlier_paths if p.endswith(".md")]
    wants_change = re.search(r"\b(?:add|also|include|extend|update|change|expand)\b", text, re.I)
    if docs_paths and wants_change:
        path = docs_paths[0]
        agent = AgentSpec(
            role="writer",
            task=(
                f"Update `{path}` (keep everything already in it) for this request from the "
                f"operator: “{' '.join(text.split())}”."
            ),
        )
        return Script(
            agents=[agent],
            plan=f"New work: one writer updates `{path}` with what you asked for.",
            read=path,
            placeholder=f"the new text in `{path}` is placeholder text from simulated models",
        )
    return new_script(text) or Script(
        agents=[
            AgentSpec(
                role="writer",
                task=f"Write the note about “{text.strip()}” into `deliverables/{slug(text)}.md`.",
            )
        ],
        plan="New work: one writer on it.",
        placeholder="the new note is placeholder text from simulated models",
    )


# --- what an agent rebuilds from its task ----------------------------------------------


def task_files(task: str) -> list[str]:
    return list(dict.fromkeys(FILE_RE.findall(task)))


def is_new_style(task: str) -> bool:
    return task.startswith(FIX_MARK) or bool(task_files(task))


def spec_for(role: str, task: str, requests: list[Request]) -> AgentSpec:
    """What a sub-agent of these plans writes and runs, from its task and the notes it got
    (steers, retry feedback)."""
    spec = AgentSpec(role=role, task=task)
    files = task_files(task)
    subject_match = SUBJECT_RE.search(task)
    subject = subject_match.group(1) if subject_match else "the task"
    if files and files[0].endswith(".py") and "usage guide" not in task:
        asked = next((r.code for r in requests if r.code is not None), None)
        kind = code_kind_named(files[0]) or asked
        if kind is not None:
            if kind.module != files[0]:
                spec.switched_to = kind.module
            spec.files = [
                FileSpec(
                    kind.module,
                    kind.fixed,
                    first_content=kind.draft,
                    fix=(kind.draft_body, kind.fixed_body),
                ),
                FileSpec(kind.test_file, kind.tests),
            ]
            spec.commands = [f"python3 -m py_compile {kind.module}"]
            # An interpreter is never allowed by prefix: under the default config this
            # asks the operator (headless: refused unless --yes).
            spec.smoke = [f'python3 -c "import {kind.stem}"']
            spec.search = "def |import "
            spec.report = (
                f"Wrote `{kind.module}` ({kind.summary}) and its tests in `{kind.test_file}`."
            )
            spec.bug = kind.bug
        else:
            module = files[0]
            spec.files = [FileSpec(module, docs.placeholder_script(module, subject))]
            spec.search = "def |import "
            spec.commands = [f"python3 -m py_compile {module}"]
            spec.report = (
                f"Wrote `{module}`, but it is PLACEHOLDER code: simulated models cannot write "
                "this program, so it only prints that it is not implemented and exits 1."
            )
        spec.unapplied = [r.note for r in requests if r.code is None]
        return spec
    if files:
        path, faq = files[0], ""
        if task.startswith("Update `"):
            spec.update = path
            spec.report = f"Updated `{path}` for the operator's request."
        elif "usage guide" in task and len(files) > 1:
            module, path = files[0], files[1]
            kind = code_kind_named(module)
            spec.files = [FileSpec(path, docs.usage_guide(module, kind.summary if kind else ""))]
            spec.report = f"Wrote the usage guide for `{module}` to `{path}`."
            subject, faq = module, kind.faq if kind else ""
        elif "research note" in task:
            spec.files = [FileSpec(path, docs.research_doc(subject, f"What about {subject}?"))]
            spec.report = (
                f"Wrote `{path}` about {subject}. Its structure is real; its content is "
                "placeholder text (simulated models, no web access)."
            )
        else:
            match = DOC_KIND_RE.search(task)
            doc = match.group(1) if match else "note"
            spec.files = [FileSpec(path, docs.writing_doc(subject, doc))]
            spec.report = (
                f"Wrote the {doc} about {subject} to `{path}`. The text is placeholder "
                "(simulated models)."
            )
        if spec.files:
            spec.files[0].content = docs.with_sections(
                spec.files[0].content, subject, requests, faq
            )
        spec.sections = [r.section for r in requests if r.section]
        spec.unapplied = [r.note for r in requests if r.section is None]
        spec.subject, spec.faq = subject, faq
        return spec
    spec.search = subject.split()[-1] if subject != "the task" else role
    spec.unapplied = [r.note for r in requests]
    return spec
