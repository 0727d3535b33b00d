"""Headless Chromium for tests, driven over the DevTools protocol with aiohttp's websocket
client (no browser-automation package): start it, open a page, watch its websockets,
press keys."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Terminal control sequences between the words the app drew (CSI, OSC, charset, keypad).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]"
)


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def terminal_text(data: bytes) -> str:
    """What a terminal would show of `data`, run together: escape sequences removed."""
    return _ESCAPES.sub("", data.decode("utf-8", "replace"))


def stop_group(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    """End a process started with start_new_session=True and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is still there
    proc.wait()


class Browser:
    """One headless Chromium with one page, and a DevTools session on that page."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.frames_in: list[bytes] = []  # websocket frames the page received
        self.frames_out: list[str] = []  # and sent
        self._changed = asyncio.Event()
        self._close_url = ""

    async def start(self, timeout_s: float = 15.0) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--headless",
                "--no-sandbox",  # tests may run as root, where Chromium's own sandbox cannot
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "--window-size=1280,800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the browser did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self._http = aiohttp.ClientSession()
        targets: list[dict[str, Any]] = []
        while not targets:
            async with self._http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = [t for t in await resp.json() if t.get("type") == "page"]
            if time.monotonic() > deadline:
                raise TimeoutError("the browser opened no page")
            if not targets:
                await asyncio.sleep(0.05)
        self._close_url = f"http://127.0.0.1:{port}/json/close/{targets[0]['id']}"
        self._ws = await self._http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        await self.call("Network.enable")
        await self.call("Page.enable")

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            response = params.get("response", {})
            if method == "Network.webSocketFrameReceived":
                payload = response.get("payloadData", "")
                raw = base64.b64decode(payload) if response.get("opcode") == 2 else payload.encode()
                self.frames_in.append(raw)
            elif method == "Network.webSocketFrameSent":
                self.frames_out.append(response.get("payloadData", ""))
            self._changed.set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        n = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[n] = future
        await self._ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 10.0)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def screen_text(self) -> str:
        return terminal_text(b"".join(self.frames_in))

    async def wait_for(self, cond: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait (on DevTools events, no polling sleep) until `cond()` holds."""
        deadline = time.monotonic() + timeout_s
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def press(self, key: str, code: str, key_code: int) -> None:
        """A key down and up, as a person's keyboard sends it to the focused element."""
        for kind in ("rawKeyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                nativeVirtualKeyCode=key_code,
            )

    async def close_tab(self) -> None:
        """Close the page, as a person closes its tab (navigating away is not that: the
        page may stay whole in the back/forward cache, its websockets open)."""
        assert self._http is not None and self._close_url
        async with self._http.get(self._close_url) as resp:
            resp.raise_for_status()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.proc is not None:
            stop_group(self.proc)
