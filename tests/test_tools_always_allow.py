"""always_allow_offer: the exact prefix an "always allow" answer adds, and no such offer
for a prefix that would let an agent run code of its choosing."""

from __future__ import annotations

import asyncio

import pytest

from core.events import ApprovalRequested, Event
from core.tools.always_allow import always_allow_offer
from core.tools.policy import ApprovalBroker, CommandPolicy


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        ("git log --oneline -5", "git log"),
        ("git status", "git status"),
        ("git diff HEAD~1 -- src/app.py", "git diff"),
        ("ls -la src", "ls"),
        ("grep -rn 'TODO' src", "grep"),
        ("npm ls --depth 0", "npm ls"),
        ("cargo fmt --check", "cargo fmt"),
        ("pip list", "pip list"),
        ("wc -l README.md", "wc"),
        ("'my tool' --flag", "'my tool'"),
    ],
)
def test_offered_prefix(command: str, prefix: str) -> None:
    offer = always_allow_offer(command)
    assert offer.offered and offer.prefix == prefix and offer.reason == ""


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("python x.py", "python runs"),
        ("python3 -m pytest -q", "python3 runs"),
        ("python3.12 -c 'import os'", "python3.12 runs"),
        ("bash -c 'echo hi'", "bash runs"),
        ("sh script.sh", "sh runs"),
        ("zsh x", "zsh runs"),
        ("node build.js", "node runs"),
        ("perl -e 'print 1'", "perl runs"),
        ("ruby x.rb", "ruby runs"),
        ("php x.php", "php runs"),
        ("env FOO=1 ls", "env runs"),
        ("xargs rm", "xargs runs"),
        ("sudo ls", "sudo runs"),
        ("eval ls", "eval runs"),
        ("exec ls", "exec runs"),
        ("timeout 5 ls", "timeout runs"),
        ("make build", "make runs"),
        ("pytest -q", "pytest runs"),
        ("npx prettier .", "npx runs"),
        ("yarn build", "yarn runs"),
        ("pnpm test", "pnpm runs"),
        ("docker ps", "docker runs"),
        ("awk '{print}' f", "awk runs"),
        ("npm run build", "npm run can run code"),
        ("npm test", "npm test can run code"),
        ("npm install left-pad", "npm install can run code"),
        ("npm exec foo", "npm exec can run code"),
        ("cargo run", "cargo run can run code"),
        ("cargo test", "cargo test can run code"),
        ("go run .", "go run can run code"),
        ("go test ./...", "go test can run code"),
        ("uv run x.py", "uv run can run code"),
        ("pip install -e .", "pip install can run code"),
        ("git commit -m x", "git commit can run code"),
        ("git config core.fsmonitor x", "git config can run code"),
        ("git -c core.pager=sh log", "git alone would allow every git command"),
        ("git", "git alone"),
        ("./build.sh", "by path (./build.sh)"),
        ("/usr/bin/python3 x.py", "by path"),
        ("FOO=1 ls", "it sets FOO first"),
        ("LD_PRELOAD=/tmp/x.so ls", "it sets LD_PRELOAD first"),
        ("ls; rm -rf /", "chains, pipes"),
        ("ls | sh", "chains, pipes"),
        ("cat x > y", "chains, pipes"),
        ("echo $(id)", "chains, pipes"),
        ("ls &", "chains, pipes"),
        ("ls 'unclosed", "chains, pipes"),  # an unbalanced quote counts as control
        ("   ", "empty"),
    ],
)
def test_no_offer_for_code_runners(command: str, why: str) -> None:
    offer = always_allow_offer(command)
    assert not offer.offered and offer.prefix is None
    assert why in offer.reason, offer.reason


def test_a_long_plain_command_offers_its_first_words_only() -> None:
    command = "git log " + " ".join(f"--grep=topic-{i}" for i in range(20))
    assert len(command) > 200
    assert always_allow_offer(command).prefix == "git log"


def test_offered_prefix_covers_the_command_it_came_from() -> None:
    for command in ("git log --oneline -5", "ls -la src", "npm ls --depth 0", "'my tool' x"):
        policy = CommandPolicy("ask")
        prefix = always_allow_offer(command).prefix
        assert prefix is not None
        policy.add_allow(prefix)
        assert policy.allowed_by(command) == prefix


async def test_broker_adds_exactly_the_offered_prefix_and_refuses_always_otherwise() -> None:
    events: list[Event] = []
    requested = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, ApprovalRequested):
            requested.set()

    broker = ApprovalBroker(emit, "run-1", CommandPolicy("ask"), interactive=True)
    task = asyncio.create_task(broker.authorize("a", "run_command", "python x.py", "/ws"))
    await asyncio.wait_for(requested.wait(), 2)
    [pending] = broker.pending()
    with pytest.raises(ValueError, match="python runs"):
        broker.answer(pending.request_id, "always")
    assert broker.pending() == [pending] and broker.policy.allow == []  # still waiting
    assert broker.answer(pending.request_id, "once")
    assert await asyncio.wait_for(task, 2) == (True, "")

    requested.clear()
    task = asyncio.create_task(broker.authorize("a", "run_command", "git log -5 --stat", "/ws"))
    await asyncio.wait_for(requested.wait(), 2)
    [pending] = broker.pending()
    assert broker.answer(pending.request_id, "always")
    assert await asyncio.wait_for(task, 2) == (True, "")
    assert broker.policy.allow == [always_allow_offer("git log -5 --stat").prefix] == ["git log"]
