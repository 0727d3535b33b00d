"""Markdown exports of a run and of one agent's conversation, secrets redacted (runs
stored before redaction existed, or with a key added since, come out clean too)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from core import redact
from core.evidence import EvidenceBook

if TYPE_CHECKING:
    from core.records import RunRecords

FENCE = "```"


def _fence(text: str, lang: str = "") -> str:
    fence = FENCE
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def conversation_markdown(messages: list[dict[str, Any]], *, heading_level: int = 3) -> str:
    """An agent's conversation: texts, tool calls and tool results, in order."""
    h = "#" * heading_level
    out: list[str] = []
    for message in messages:
        role = message.get("role", "?")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            kind = block.get("type")
            if kind == "text" and block.get("text", "").strip():
                who = "Model" if role == "assistant" else "Input"
                out.append(f"{h} {who}\n\n{block['text'].strip()}\n")
            elif kind == "thinking" and block.get("thinking", "").strip():
                out.append(
                    f"{h} Thinking\n\n> " + block["thinking"].strip().replace("\n", "\n> ") + "\n"
                )
            elif kind == "tool_use":
                args = json.dumps(block.get("input", {}), indent=2, ensure_ascii=False)
                out.append(f"{h} Tool call: `{block.get('name')}`\n\n{_fence(args, 'json')}\n")
            elif kind == "tool_result":
                body = block.get("content", "")
                if isinstance(body, list):
                    body = "\n".join(b.get("text", "") for b in body if isinstance(b, dict))
                label = "Tool error" if block.get("is_error") else "Tool result"
                out.append(f"{h} {label}\n\n{_fence(str(body))}\n")
    return redact.current().redact("\n".join(out))


def _verified(summary: dict[str, Any]) -> str:
    if summary.get("verified"):
        return "yes: a check passed after the last file change"
    return "no" if summary.get("checks") else "no: no check ran"


ESTIMATE_MARK = "~"  # before a figure partly counted from streamed text, as in the live view


def _money(value: float | None, estimated: bool = False) -> str:
    mark = ESTIMATE_MARK if estimated else ""
    return f"{mark}${value:.4f}" if value is not None else "unknown"


def _out(tokens: int, estimated: bool) -> str:
    return (ESTIMATE_MARK if estimated else "") + f"{tokens:,}"


async def run_markdown(store: RunRecords, run_id: str) -> str:
    """The whole run: summary, agents table, the result, then every conversation."""
    summary = await store.run_summary(run_id)
    usage = summary["usage"]
    estimated = bool(summary.get("estimated"))
    lines = [
        f"# Run {run_id}",
        "",
        f"- **Task:** {summary.get('task', '')}",
        f"- **Status:** {summary['status']}",
        f"- **Verified:** {_verified(summary)}",
        f"- **Cost:** {_money(summary.get('cost_usd'), estimated)}",
        f"- **Tokens:** {usage['input_tokens']:,} in · "
        f"{_out(usage['output_tokens'], estimated)} out · "
        f"{usage['cache_read_tokens']:,} cache read · {usage['cache_write_tokens']:,} cache write",
        "",
        "| agent | role | model | status | attempt | in | out | cost | elapsed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    agents = await store.agents(run_id)
    for a in agents:
        elapsed = f"{a.elapsed_s:.1f}s" if a.elapsed_s is not None else ""
        lines.append(
            f"| {a.agent_id} | {a.role} | {a.model} | {a.state} | {a.attempt} | "
            f"{a.input_tokens:,} | {_out(a.output_tokens, a.estimated)} | "
            f"{_money(a.cost_usd, a.estimated)} | {elapsed} |"
        )
    if summary.get("error"):
        lines.insert(5, f"- **Error:** {summary['error']}")
    if summary.get("checks"):
        lines += ["", "## Checks", ""]
        for c in summary["checks"]:
            code = "timed out" if c.get("timed_out") else f"exit {c['exit_code']}"
            where = "after the last change" if c["after_last_change"] else "before a later change"
            lines.append(f"- `{c['command']}`: {code}, {where}")
    if summary.get("result"):
        lines += ["", "## Result", "", summary["result"]]
    book = EvidenceBook.of(await store.evidence_events(run_id))
    for a in agents:
        for attempt in range(1, a.attempt + 1):
            messages = await store.conversation(run_id, a.agent_id, attempt)
            if not messages:
                continue
            suffix = f" (attempt {attempt})" if a.attempt > 1 else ""
            lines += ["", f"## {a.agent_id}{suffix}", "", conversation_markdown(messages)]
            evidence = book.ledger(a.agent_id, attempt).lines()
            lines += ["", "### Evidence (recorded by delegate)", ""]
            lines += [f"- {line}" for line in evidence]
    return redact.current().redact("\n".join(lines) + "\n")
