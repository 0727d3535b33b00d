"""The pieces of the limits on their own: the loop detector, the cost meter, the caps,
the settings and flags that set them."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.catalog import Catalog, Usage
from core.config import ConfigError, Settings, parse_config
from core.cost_meter import CostMeter, Limit, RunLedger, estimate_tokens
from core.repeat_guard import RepeatGuard
from tui.cli import OVERVIEW, UsageError, build_parser, parse_budget, settings_from


def test_repeats_are_refused_at_n_and_stuck_at_2n() -> None:
    guard = RepeatGuard(4)
    counts = []
    for _ in range(8):
        (verdict,) = guard.judge([("wait_for_agents", {})])
        counts.append((verdict.count, verdict.blocked, verdict.stuck))
        result = None if verdict.blocked else "nothing to wait for"
        guard.record([("wait_for_agents", {}, result, False)])
    assert counts == [
        (1, False, False), (2, False, False), (3, False, False), (4, True, False),
        (5, True, False), (6, True, False), (7, True, False), (8, True, True),
    ]  # fmt: skip


def test_a_new_result_or_a_real_wait_is_progress() -> None:
    guard = RepeatGuard(3)
    for i in range(5):  # the same call, a different result each time: never blocked
        (verdict,) = guard.judge([("run_command", {"command": "pytest"})])
        assert not verdict.blocked
        guard.record([("run_command", {"command": "pytest"}, f"{i} failed", False)])
    for _ in range(5):  # the same result, but it waited while agents worked
        (verdict,) = guard.judge([("wait_for_agents", {"timeout_s": 60})])
        assert not verdict.blocked
        guard.record([("wait_for_agents", {"timeout_s": 60}, "still running", True)])


def test_identical_calls_in_one_reply_count_once_and_key_order_does_not_matter() -> None:
    guard = RepeatGuard(4)
    calls = [("read_file", {"path": "a", "limit": 5})] * 12
    verdicts = guard.judge(calls)
    assert {v.count for v in verdicts} == {1} and not any(v.blocked for v in verdicts)
    guard.record([(n, a, "text", False) for n, a in calls])
    swapped = [("read_file", {"limit": 5, "path": "a"})]
    assert guard.judge(swapped)[0].count == 2
    assert RepeatGuard(None).judge(calls * 3)[0].blocked is False


def test_the_meter_estimates_while_streaming_and_the_report_replaces_it() -> None:
    catalog = Catalog()
    ledger = RunLedger(None)
    meter = CostMeter(catalog, "claude-haiku-4-5", ledger=ledger)
    meter.on_usage(Usage(input_tokens=1000, output_tokens=1))  # message_start
    assert meter.cost == pytest.approx(1000e-6 + 5e-6)
    meter.on_stream(400)  # 100 tokens streamed, not reported yet
    assert meter.current.output_tokens == 101
    assert meter.cost == pytest.approx(1000e-6 + 101 * 5e-6)
    assert ledger.spent_usd == pytest.approx(meter.cost)
    meter.commit(Usage(input_tokens=1000, output_tokens=90))  # the API's own count wins
    assert meter.cost == pytest.approx(1000e-6 + 90 * 5e-6)
    assert ledger.spent_usd == pytest.approx(meter.cost)
    meter.on_usage(Usage(input_tokens=10, cache_read_tokens=5000, output_tokens=1))
    meter.on_stream(40)
    meter.commit()  # cut mid-reply: billed at the estimate, cache reads at their price
    price = catalog.get("claude-haiku-4-5").price  # type: ignore[union-attr]
    second = 10e-6 + 5000 * price.cache_read / 1e6 + 11 * 5e-6
    assert meter.cost == pytest.approx(1000e-6 + 90 * 5e-6 + second)
    assert meter.tokens == 1000 + 90 + 10 + 5000 + 11
    assert estimate_tokens(0) == 0 and estimate_tokens(1) == 1 and estimate_tokens(8) == 2


def test_the_meter_cost_is_the_catalogs_sum_to_the_last_bit() -> None:
    """The meter keeps a try's fixed terms between deltas; its figure is still exactly
    what `Catalog.cost` gives (a budget set to that figure stops at the same delta), on
    both sides of a tiered model's threshold, and the token count is exact too."""
    catalog = Catalog()
    for model in ("claude-haiku-5-5", "claude-opus-5-5", "claude-haiku-4-5"):
        for prompt in (1_000, 100_000, 100_001, 250_000):
            meter = CostMeter(catalog, model, ledger=RunLedger(None))
            committed = 0.0
            committed_usage = Usage()
            for turn in range(3):
                reported = Usage(prompt // 3 + turn, 1, prompt // 3, prompt - 2 * (prompt // 3))
                meter.on_usage(reported)
                for chars in (1, 3, 17, 4, 400, 81):
                    meter.on_stream(chars)
                    current = meter.current
                    expected = committed + catalog.cost(model, current)  # type: ignore[operator]
                    assert meter.cost == expected  # the same float, not approximately
                    total = committed_usage + current
                    assert meter.tokens == total.prompt_tokens + total.output_tokens
                final = Usage(reported.input_tokens, 77, reported.cache_read_tokens,
                              reported.cache_write_tokens)  # fmt: skip
                meter.commit(final)
                committed += catalog.cost(model, final)  # type: ignore[operator]
                committed_usage = committed_usage + final
                assert meter.cost == committed and meter.current == Usage()
    carried = CostMeter(catalog, "claude-haiku-5-5")
    carried.carry_over(Usage(10, 10), None)  # earlier tries of an unknown cost
    carried.on_usage(Usage(5, 1))
    carried.on_stream(40)
    assert carried.cost is None and carried.tokens == 20 + 5 + 1 + 10


def test_an_unpriced_model_is_not_counted_but_named() -> None:
    ledger = RunLedger(1.0)
    meter = CostMeter(Catalog(), "claude-unknown-9", ledger=ledger)
    meter.on_usage(Usage(input_tokens=10**9, output_tokens=1))
    assert meter.cost is None and ledger.spent_usd == 0 and ledger.unpriced == {"claude-unknown-9"}


def test_a_limit_warns_once_then_is_spent_once() -> None:
    limit = Limit(10.0, "usd")
    assert [limit.check(v) for v in (1, 7.9, 8, 8.5, 9.9, 10, 12)] == [
        None, None, "warn", None, None, "spent", None,
    ]  # fmt: skip
    jump = Limit(100, "tokens")
    assert jump.check(150) == "spent" and jump.check(160) is None  # past both at once
    assert Limit(40_000, "tokens").describe(32_000) == "32,000 of 40,000 tokens"


def test_limits_in_the_config(tmp_path: Path) -> None:
    s = parse_config(
        {
            "limits": {"budget_usd": 2.5, "max_agents": 10, "repeat_limit": 3,
                       "stall_after_s": 30, "max_retries": 0, "max_parallel_tools": 2},
            "ceo": {"max_turns": 20},
            "roles": {"coding": {"budget_usd": 0.5, "max_turns": 7, "token_budget": 9000}},
        }
    )  # fmt: skip
    assert (s.budget_usd, s.max_agents, s.repeat_limit, s.stall_after_s) == (2.5, 10, 3, 30)
    assert (s.max_retries, s.max_parallel_tools, s.ceo_max_turns) == (0, 2, 20)
    coding = s.roles["coding"]
    assert (coding.budget_usd, coding.max_turns, coding.token_budget) == (0.5, 7, 9000)
    assert parse_config({"limits": {"budget_usd": "none"}}).budget_usd is None
    assert parse_config({"limits": {"budget_usd": 0}}).budget_usd is None
    for bad in ({"budget_usd": -1}, {"budget_usd": float("nan")}, {"budget_usd": float("inf")},
                {"max_agents": 0}, {"repeat_limit": 1.5}, {"budget_usd": True}):  # fmt: skip
        with pytest.raises(ConfigError, match="limits"):
            parse_config({"limits": bad})
    with pytest.raises(ConfigError, match=r"roles\.coding\.max_turns"):
        parse_config({"roles": {"coding": {"max_turns": 0}}})


def test_budget_flag_and_help() -> None:
    assert "--budget-usd X" in OVERVIEW and "default $5.00" in OVERVIEW
    assert Settings().budget_usd == 5.0
    for text, value in (("2", 2.0), ("$0.50", 0.5), ("0", None), ("none", None)):
        assert parse_budget(text) == value
    for text in ("abc", "-1", "nan", "inf"):
        with pytest.raises(UsageError, match="--budget-usd"):
            parse_budget(text)
    args = build_parser("run").parse_args(["task", "--budget-usd", "1.25"])
    assert settings_from(args).budget_usd == 1.25
    args = build_parser(None).parse_args(["--budget-usd", "none"])
    assert settings_from(args).budget_usd is None
    assert "--budget-usd" in build_parser("run").format_help()
