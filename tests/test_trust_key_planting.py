"""Key planting: a fake API key and secret environment variables are planted in a headless
`delegate run` (a child process, the real SDK over loopback). The scripted model makes
every tool that reads text return them (read_file of a workspace file, run_check and
run_command `cat` of it, web_fetch of a loopback page) and emits them itself, split across
stream deltas. Then every byte of the database, its -wal and -shm files, the exports
(`show --json`, `show --markdown`, `history --json`) and the run's stdout/stderr is
searched: zero hits. The requests the model provider received carry none either (only
the key in its auth header)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.redact import PLACEHOLDER
from tests.fakeapi import FakeAPI, Message, RecordedRequest, Text, ToolUse, tool_use_reply

KEY = "sk-ant-api03-PLANTED-4f9c2e7a1b-key-must-never-be-stored"
SECRETS = {
    "GITHUB_TOKEN": "ghp_PlantedGithubToken0123456789abcdef",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDKEY",
    "MY_SERVICE_PASSWORD": 'pl@nted"pass\\word-with-quotes',  # JSON-escaped in the store
    "STRIPE_API_KEY": "sk_live_PLANTEDstripe51HqLyjWDarjtT1zdp7dc",
}
SHORT = {"DEBUG_TOKEN": "1"}  # too short to be a secret: "1" is not blanked everywhere
ALL = [KEY, *SECRETS.values()]
SECRET_FILE = "notes.txt"


class _Page(BaseHTTPRequestHandler):
    body = (
        "<html><body><p>config dump</p><pre>" + "\n".join(ALL) + "</pre></body></html>"
    ).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dump"
    finally:
        server.shutdown()
        server.server_close()


def _leaky_text() -> Message:
    """The model itself says every secret; each is cut across several stream deltas."""
    text = "Here is what I found: " + " and ".join(ALL) + ". Done."
    return Message([Text(text, pieces=len(text) // 5)])


def _model(page: str) -> Any:
    """CEO: read the file, cat it with run_check, spawn a coding and a research agent,
    wait, then answer with the secrets. Sub-agents: cat / web_fetch, then leak in text."""

    def reply(request: RecordedRequest) -> Message:
        system = json.dumps(request.body.get("system", ""))
        turn = (len(request.messages) + 1) // 2
        if "CEO" in system:
            if turn == 1:
                return tool_use_reply(
                    [
                        ToolUse("read_file", {"path": SECRET_FILE}),
                        ToolUse("run_check", {"command": f"cat {SECRET_FILE}"}),
                        ToolUse("spawn_agent", {"role": "coding", "task": "cat the notes"}),
                        ToolUse("spawn_agent", {"role": "research", "task": "fetch " + page}),
                    ]
                )
            if turn == 2:
                return tool_use_reply([ToolUse("wait_for_agents", {})])
            return _leaky_text()
        task = json.dumps(request.messages[0])
        if turn == 1 and "fetch" in task:
            return tool_use_reply([ToolUse("web_fetch", {"url": page})])
        if turn == 1:
            return tool_use_reply([ToolUse("run_command", {"command": f"cat {SECRET_FILE}"})])
        return _leaky_text()

    return reply


async def _cli(env: dict[str, str], *args: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out, err


def _forms(secret: str) -> list[bytes]:
    """The raw value and the forms it takes in JSON text (what the store writes)."""
    return sorted(
        {
            secret.encode(),
            json.dumps(secret)[1:-1].encode(),
            json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        }
    )


def _hits(blob: bytes) -> list[str]:
    return [s for s in ALL if any(form in blob for form in _forms(s))]


async def test_planted_secrets_reach_no_byte_written_or_sent(tmp_path: Path, page_url: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / SECRET_FILE).write_text("deploy notes\n" + "\n".join(ALL) + "\n")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "runs.db"
    config = tmp_path / "delegate.toml"
    # The page is served on loopback, which web_fetch refuses unless the config allows it.
    config.write_text('[tools.web_fetch]\nallow_hosts = ["127.0.0.1"]\n')
    root = Path(__file__).resolve().parent.parent
    async with FakeAPI(api_key=KEY, default=_model(page_url)) as api:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(root),
            "HOME": str(tmp_path),
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": api.base_url,
            **SECRETS,
            **SHORT,
        }
        # Held open across the run, so the child's close is not the last one and its
        # -wal file stays on disk to be searched too.
        keeper = sqlite3.connect(db)
        try:
            keeper.execute("PRAGMA journal_mode=WAL")
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the WAL
            common = ["--db", str(db), "--workspace", str(workspace), "--config", str(config)]
            code, run_out, run_err = await _cli(
                env, "run", "Audit the notes", "--json", "--yes", *common
            )
            assert code == 0, run_err.decode()
            run_id = json.loads(run_out)["run_id"]
            exports = [
                await _cli(env, "show", run_id, "--json", *common),
                await _cli(env, "show", run_id, "--markdown", *common),
                await _cli(env, "show", run_id, *common),
                await _cli(env, "history", "--json", *common),
            ]
            assert all(code == 0 for code, _, _ in exports), exports
            files = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
        finally:
            keeper.close()

        assert {"runs.db", "runs.db-wal"} <= set(files), sorted(files)
        assert len(files["runs.db-wal"]) > 0
        blobs: dict[str, bytes] = {
            **files,
            "run stdout": run_out,
            "run stderr": run_err,
            **{f"export {i}": out + err for i, (_, out, err) in enumerate(exports)},
        }
        scanned = sum(len(b) for b in blobs.values())
        leaks = {name: _hits(blob) for name, blob in blobs.items() if _hits(blob)}
        assert leaks == {}, f"secrets found in {sorted(leaks)} ({scanned} bytes scanned)"

        # The secrets really flowed through every tool and the model's text ...
        markdown = exports[1][1].decode()
        for tool in ("read_file", "run_check", "run_command", "web_fetch"):
            assert f"Tool call: `{tool}`" in markdown, tool
        assert markdown.count(PLACEHOLDER) >= 6 * len(ALL), markdown
        assert "config dump" in markdown  # the fetched page was read
        # ... and the provider was sent none of them: tool results were redacted first.
        assert len(api.requests) >= 7
        for request in api.requests:
            assert _hits(request.raw) == [], request.index
            assert {k for k, v in request.headers.items() if KEY in v} <= {
                "x-api-key",
                "authorization",
            }
        sent = b"".join(r.raw for r in api.requests)
        assert sent.count(PLACEHOLDER.encode()) >= 4 * len(ALL)
