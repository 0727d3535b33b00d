"""HTTP errors before a stream starts: 429, 529, 500, 503 (retried), 400 (fails that agent)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.events import CEO_ID, ApiRetry
from core.session import Session
from tests.fakeapi import HttpError, http_error
from tests.faults.harness import FAST, Call, Plan, Worker, agent_id, assert_recovered, fault_run

ERRORS = {
    "429": lambda: http_error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        {**FAST, "retry-after": "1"},
    ),
    "529": lambda: http_error(529, "overloaded_error", "Overloaded", FAST),
    "500": lambda: http_error(500, "api_error", "Internal server error", FAST),
    "503": lambda: http_error(503, "api_error", "Service unavailable", FAST),
}
LABELS = {
    "429": "rate limited (429 rate_limit_error)",
    "529": "API overloaded (529 overloaded_error)",
    "500": "API server error (500 api_error)",
    "503": "API server error (503 api_error)",
}
SDK_TRIES = 3  # the SDK's own try plus its 2 retries, before a turn retry


@pytest.mark.parametrize("status", list(ERRORS))
@pytest.mark.parametrize("when", ["first-request", "after-turns"])
async def test_transient_error_is_retried_and_the_run_finishes(
    tmp_path: Path, status: str, when: str
) -> None:
    """Every SDK try of one turn fails: the turn is retried (shown as ApiRetry) and succeeds."""
    make = ERRORS[status]
    turns = 0 if when == "first-request" else 3
    ceo_turn = 1 if when == "first-request" else 3
    plan = Plan([Worker("a", turns=turns), Worker("b")])
    plan.fail(CEO_ID, ceo_turn, *[make() for _ in range(SDK_TRIES)])
    plan.fail("a", turns + 1, *[make() for _ in range(SDK_TRIES)])

    async with fault_run(tmp_path, plan) as run:
        outcome = await run.finish()
        assert_recovered(run, outcome)
        for agent, key, turn in [
            (CEO_ID, CEO_ID, ceo_turn),
            ("a", agent_id(run, plan.workers[0]), turns + 1),
        ]:
            (retry,) = run.recorder.of(ApiRetry, key)
            assert retry.turn == turn and retry.try_number == 1
            assert LABELS[status] in retry.reason
            assert [c.try_no for c in plan.of(agent) if c.turn == turn] == [1, 2, 3, 4]
        assert not run.recorder.of(ApiRetry, agent_id(run, plan.workers[1]))
        await run.assert_stored()


async def test_a_persistent_error_fails_that_agent_and_the_ceo_is_told(tmp_path: Path) -> None:
    plan = Plan([Worker("a", turns=2), Worker("b"), Worker("c")])
    plan.always(lambda call: call.agent == "b", ERRORS["503"])

    async with fault_run(tmp_path, plan) as run:
        outcome = await run.finish()
        b = agent_id(run, plan.workers[1])
        finished = run.finished(b)
        assert finished.state == "failed"
        assert finished.result.startswith("model call failed, gave up after 4 tries: ")
        assert "API server error (503 api_error): Service unavailable" in finished.result
        assert run.states(b)[-1] == "failed"
        assert len(run.recorder.of(ApiRetry, b)) == 3  # turn_retries
        assert len(plan.of("b")) == 4 * SDK_TRIES  # bounded: no more than that
        for w in (plan.workers[0], plan.workers[2]):
            assert run.finished(agent_id(run, w)).state == "done"
        ceo_saw = run.last_ceo_request()
        assert "gave up after 4 tries" in ceo_saw and "report from a" in ceo_saw
        assert outcome.status == "failed"  # some delegated work did not succeed
        assert outcome.result == "All done."  # but the CEO answered
        await run.assert_stored()


async def test_retry_after_in_seconds_is_honoured_by_the_turn_retry(tmp_path: Path) -> None:
    """With the SDK's retries off, the turn retry waits at least what `retry-after` asks."""
    plan = Plan([])
    slow = http_error(429, "rate_limit_error", "slow down", {"retry-after": "1"})
    plan.fail(CEO_ID, 1, slow)

    async with fault_run(tmp_path, plan, sdk_retries=0) as run:
        outcome = await run.finish()
        assert outcome.status == "unverified"  # answered; the plan runs no check
        (retry,) = run.recorder.of(ApiRetry, CEO_ID)
        assert 1.0 <= retry.delay_s <= 1.5
        first, second = (c.request.at for c in plan.of(CEO_ID)[:2])
        assert second - first >= 0.95
        await run.assert_stored()


def _unknown_model(call: Call) -> bool:
    return call.request.body.get("model") == "claude-nope-9"


async def test_unknown_model_fails_only_that_agent_with_the_api_message(tmp_path: Path) -> None:
    plan = Plan([Worker("a", turns=1), Worker("bad", model="claude-nope-9"), Worker("c")])
    message = "model: claude-nope-9 is not a valid model"
    plan.always(_unknown_model, lambda: HttpError(400, "invalid_request_error", message))

    def configure(session: Session) -> None:
        # The config names the model (so spawn_agent's enum accepts it); the API does not know it.
        catalog = session.settings.catalog.with_overrides(
            {"claude-nope-9": {"input": 1.0, "output": 5.0}}
        )
        session.ceo_tools.settings = replace(session.settings, catalog=catalog)

    async with fault_run(tmp_path, plan, before_start=configure) as run:
        outcome = await run.finish()
        bad = agent_id(run, plan.workers[1])
        finished = run.finished(bad)
        assert finished.state == "failed"
        assert finished.result == (
            f"the API refused the request (400 invalid_request_error): {message}"
        )
        assert len(plan.of("bad")) == 1  # never retried
        assert not run.recorder.of(ApiRetry, bad)
        for w in (plan.workers[0], plan.workers[2]):
            assert run.finished(agent_id(run, w)).state == "done"
        assert message in run.last_ceo_request()
        assert outcome.status == "failed" and outcome.result == "All done."
        await run.assert_stored()
