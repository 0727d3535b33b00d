"""The CEO prompt states each rule of the delegation pattern; the model field is an enum."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from core.ceo_prompt import ceo_system_prompt, valid_models
from core.config import Settings
from core.llm import TurnRequest, TurnResult, TurnSink
from core.session import Session
from tests.scripted import ScriptedModel, text, tool_use

PROMPT = ceo_system_prompt(Settings())


def test_handle_directly_under_30_seconds() -> None:
    rule = PROMPT.split("\n1. ")[1].split("\n2. ")[0]
    assert "under about 30 seconds" in rule
    for what in ("quick reads", "lookups", "verifying", "decisions", "decomposition", "synthesis"):
        assert what in rule


def test_delegate_over_5_minutes_or_3_steps_parallel_only_when_independent() -> None:
    assert "over about 5 minutes or more than 3 steps" in PROMPT
    assert "parallel specialists only for independent parts" in PROMPT
    assert "use one agent" in PROMPT


def test_the_model_table_with_timeouts_and_reasons() -> None:
    for row in (
        "| coding | claude-haiku-5-5 | 15 min |",
        "| research | claude-haiku-5-5 | 5 min |",
        "| writer | claude-sonnet-5-5 | 3 min |",
        "| analysis | claude-opus-5-5 | 10 min |",
        "| data | claude-haiku-5-5 | 5 min |",
    ):
        assert row in PROMPT
    assert "code builds and tests" in PROMPT and "web research" in PROMPT
    assert "strategic analysis" in PROMPT and "data transformation" in PROMPT


def test_the_table_is_generated_from_the_config() -> None:
    s = Settings()
    roles = dict(s.roles)
    roles["coding"] = replace(roles["coding"], model="claude-sonnet-5-5", timeout_s=1200.0)
    changed = ceo_system_prompt(replace(s, roles=roles, max_concurrent=3))
    assert "| coding | claude-sonnet-5-5 | 20 min |" in changed
    assert "At most 3 sub-agents run at once" in changed


def test_pass_only_what_a_task_needs() -> None:
    assert "Pass only what a task needs" in PROMPT and "never this conversation" in PROMPT


def test_disjoint_files_for_parallel_agents() -> None:
    assert "Parallel agents must work on disjoint files" in PROMPT and "`files`" in PROMPT


def test_every_spawn_has_a_timeout() -> None:
    assert "Every spawn has a timeout" in PROMPT


def test_the_cap_and_the_queue() -> None:
    assert "At most 5 sub-agents run at once" in PROMPT and "FIFO queue" in PROMPT


def test_verify_the_deliverable_never_a_grep_and_the_allow_list() -> None:
    assert "tests the deliverable the operator asked for" in PROMPT
    assert "the project's own tests" in PROMPT
    assert "Never a grep or ls that any file would pass" in PROMPT
    assert "passed after the last file change" in PROMPT
    assert "refused" in PROMPT and "`python -m pytest`" in PROMPT  # the allow list itself


def test_a_retry_is_a_fresh_conversation() -> None:
    assert "retry_agent starts a fresh conversation" in PROMPT
    assert "Put everything it needs in `feedback`" in PROMPT


def test_what_to_do_on_failure_timeout_or_budget() -> None:
    assert "failed, timed_out or over its budget" in PROMPT
    assert f"at most {Settings().max_retries} times per agent" in PROMPT
    assert "report honestly what is not done" in PROMPT


def test_the_final_answer_says_what_was_and_was_not_verified() -> None:
    assert "what was verified and how" in PROMPT and "what was not verified" in PROMPT


def test_the_evidence_block_is_explained() -> None:
    assert "evidence block written by delegate" in PROMPT and "UNSUPPORTED CLAIM" in PROMPT


def test_model_fields_are_an_enum_of_valid_ids(tmp_path: Path) -> None:
    session = Session(Settings(workspace=tmp_path, simulate=True))
    tools = session.ceo_tools.tools()
    valid = valid_models(session.settings)
    assert "claude-haiku-5-5" in valid and "opus-5-5" not in valid
    for name in ("spawn_agent", "retry_agent"):
        assert tools[name].input_schema["properties"]["model"]["enum"] == valid
    description = tools["run_check"].description
    assert "approval" in description and "refused" in description and "pytest" in description


async def test_an_unknown_model_is_a_tool_error_naming_the_valid_ones(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("spawn_agent", {"role": "coding", "task": "x", "model": "opus-5-5"})
        return text("could not spawn")

    model = ScriptedModel(script)
    session = Session(Settings(workspace=tmp_path, simulate=True))
    session.client = model  # type: ignore[assignment]
    session.start("Do it")
    await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    result = model.requests[1].messages[-1]["content"][0]
    assert result["is_error"] is True
    assert "opus-5-5" in result["content"] and "claude-opus-5-5" in result["content"]
    assert not session.supervisor.records  # nothing was spawned, nothing ran into a 404
    # The explicit check (for a direct call that skipped schema validation) says the same.
    try:
        session.ceo_tools._check_model("opus-5-5")
    except Exception as exc:
        assert "valid model ids: claude-haiku-4-5" in str(exc)
    else:
        raise AssertionError("an unknown model was accepted")
