"""The claims matcher on real phrasings: true claims pass, unsupported ones are flagged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.claims import unsupported_claims
from core.config import Settings
from core.events import ClaimsFlagged, CommandRan, FileChanged
from core.evidence import Ledger
from core.llm import TurnRequest, TurnResult, TurnSink
from core.session import Session
from core.store import Store
from tests.scripted import Recorder, ScriptedModel, all_text, text, tool_use


def ledger(commands: Sequence[tuple[str, int]] = (), files: Sequence[str] = ()) -> Ledger:
    led = Ledger("coding-1", 1)
    for cmd, code in commands:
        led.add(
            CommandRan(
                run_id="r",
                agent_id="coding-1",
                attempt=1,
                tool="run_command",
                command=cmd,
                exit_code=code,
                duration_s=0.5,
            )
        )
    for path in files:
        led.add(
            FileChanged(
                run_id="r",
                agent_id="coding-1",
                attempt=1,
                tool="write_file",
                path=path,
                bytes=10,
                sha256_before=None,
                sha256_after="x",
            )
        )
    return led


NOTHING = ledger()
PYTEST_OK = ledger([("python -m pytest -q", 0)], ["calc.py"])
PYTEST_FAILED = ledger([("python -m pytest -q", 1)], ["calc.py"])
WROTE_CALC = ledger(files=["calc.py"])
WROTE_SITE = ledger(files=["deliverables/site/index.html"])

# (report, ledger, expected substring of the flag, or None when nothing should be flagged)
CASES = [
    # --- tests passed -------------------------------------------------------------------
    ("All tests pass (42 passed).", NOTHING, "this attempt ran no test command"),
    ("All 42 tests pass.", NOTHING, "claims tests passed"),
    ("42 passed in 0.31s", NOTHING, "ran no test command"),
    ("The test suite passes now.", NOTHING, "ran no test command"),
    ("✅ pytest passes", NOTHING, "ran no test command"),
    ("Tests are green.", NOTHING, "ran no test command"),
    ("I ran the tests and fixed the bug.", WROTE_CALC, "tests were run"),
    ("All tests pass (42 passed).", PYTEST_FAILED, "`python -m pytest -q` exited 1"),
    ("All tests pass (3 passed, 0 failed).", PYTEST_OK, None),
    ("Ran `python -m pytest -q`: 3 passed.", PYTEST_OK, None),
    ("The tests pass now.", PYTEST_OK, None),
    ("Everything works: 10/10 tests passed.", NOTHING, "ran no test command"),
    ("I've run the full test suite and everything is fine.", NOTHING, "tests were run"),
    ("`pytest -q` passes.", NOTHING, "ran no test command"),
    ("`pytest -q` passes.", ledger([("pytest -q", 0)]), None),
    # --- hedged, negated, conditional: not claims -----------------------------------------
    ("I could not run the tests: pytest is not installed.", NOTHING, None),
    ("The tests should pass once the fixture is added.", NOTHING, None),
    ("Tests do not pass yet: test_add fails.", NOTHING, None),
    ("Run `python -m pytest -q` to check that all tests pass.", NOTHING, None),
    ("If the tests pass, the fix is complete.", NOTHING, None),
    ("I did not run any tests.", NOTHING, None),
    ("Did all tests pass?", NOTHING, None),
    # --- a command ran ------------------------------------------------------------------
    ("I ran `make build` and it succeeded.", NOTHING, "claims it ran `make build`"),
    (
        "Ran `ls deliverables/site` to confirm the files.",
        ledger([("ls deliverables/site", 0)]),
        None,
    ),
    ("`npm run lint` passes.", ledger([("npm run lint", 2)]), "`npm run lint` passed; it exited 2"),
    (
        "`python3 -m py_compile convert.py` succeeds.",
        ledger([("python3 -m py_compile convert.py", 0)]),
        None,
    ),
    # --- a file was written -------------------------------------------------------------
    ("Fixed the bug in calc.py: add now returns a + b.", NOTHING, "wrote no files"),
    ("I updated `calc.py` so that add() returns a + b.", WROTE_CALC, None),
    ("Wrote deliverables/site/index.html with a hero and a contact section.", WROTE_SITE, None),
    (
        "Created deliverables/site/style.css.",
        WROTE_SITE,
        "this attempt only wrote deliverables/site/index.html",
    ),
    ("- Updated README.md with usage notes", NOTHING, "claims it wrote or changed README.md"),
    ("Edited src/app.py to handle empty input.", NOTHING, "changed src/app.py"),
    ("I have created convert.py and test_convert.py.", NOTHING, "changed convert.py"),
    ("Executed `python convert.py sample.csv` successfully.", NOTHING, "ran no such command"),
    ("I read calc.py and found the bug.", NOTHING, None),  # reading is not writing
    ("The file calc.py was already correct.", NOTHING, None),
    # a command that could have written it: not flagged (prefer missing a claim)
    ("Saved the results to out.json.", ledger([("python gen.py > out.json", 0)]), None),
    ("Wrote out.json.", ledger([("python convert.py data.csv", 0)]), None),
    # the file a document is about is not a file it claims to have written
    (
        "Wrote the usage guide for `convert.py` to `deliverables/convert-guide.md`.",
        ledger(files=["deliverables/convert-guide.md"]),
        None,
    ),
]


@pytest.mark.parametrize(("report", "evidence", "flag"), CASES)
def test_claims_against_evidence(report: str, evidence: Ledger, flag: str | None) -> None:
    found = unsupported_claims(report, evidence)
    if flag is None:
        assert found == [], found
    else:
        assert len(found) == 1 and flag in found[0], found


def test_there_are_enough_real_phrasings() -> None:
    assert sum(f is not None for *_, f in CASES) >= 15
    assert sum(f is None for *_, f in CASES) >= 15


def test_a_long_report_flags_each_problem_once() -> None:
    report = (
        "Summary of my work:\n"
        "- Fixed the off-by-one in calc.py.\n"
        "- All 12 tests pass.\n"
        "- All tests pass.\n"
        "Nothing else to report."
    )
    found = unsupported_claims(report, NOTHING)
    assert len(found) == 3  # the file, and each distinct test sentence
    assert found[0].startswith("claims it wrote or changed calc.py")
    assert all("ran no test command" in f for f in found[1:])


async def test_the_ceo_is_told_of_an_unsupported_claim(tmp_path: Path) -> None:
    """A sub-agent says "All tests pass (42 passed)" having run nothing: the CEO's
    wait_for_agents result carries the agent's words, then the flag, and so does the JSON."""

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not any(t["name"] == "spawn_agent" for t in request.tools):
            return text("Fixed it. All tests pass (42 passed).")
        if len(request.messages) == 1:
            return tool_use("spawn_agent", {"role": "coding", "task": "fix the test"})
        if len(request.messages) == 3:
            return tool_use("wait_for_agents", {})
        return text("Reported.")

    model = ScriptedModel(script)
    session = Session(Settings(workspace=tmp_path, simulate=True))
    session.client = model  # type: ignore[assignment]
    store = await Store.open(tmp_path / "runs.db")
    session.bus.subscribe(store.append)
    rec = Recorder(session.bus)
    session.start("Fix the failing test")
    outcome = await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    await store.flush()
    summary = await store.run_summary(outcome.run_id)
    await store.close()
    (flagged,) = rec.of(ClaimsFlagged, "coding-1")
    assert "this attempt ran no test command" in flagged.claims[0]
    # Told by wait_for_agents or by the finish notice (whichever came first): both carry
    # the agent's words, then the engine's block with the flag.
    seen = all_text(model.requests[-1])
    assert (
        "Fixed it. All tests pass (42 passed).\n\n"
        "[evidence recorded by delegate for coding-1 attempt 1]\n"
        "- no files written, no commands run, no URLs fetched\n"
        "- UNSUPPORTED CLAIM: claims tests passed"
    ) in seen
    report = session.ceo_tools.report(session.supervisor.get("coding-1"))
    assert report["unsupported_claims"] == flagged.claims
    coding = next(a for a in summary["agents"] if a["id"] == "coding-1")
    assert coding["evidence"]["unsupported_claims"] == flagged.claims
