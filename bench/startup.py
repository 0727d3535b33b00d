"""Start-up: `delegate --help` against the `python -c pass` floor, and the TUI's first frame.

The first frame is measured on the real command in a pseudo-terminal (160x48): from
spawning `delegate --demo` to the starting screen on screen (the session is built after
it, while the model SDK imports), and to the run screen's header.

    python -m bench.startup
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from bench.common import ms, parser, table, write_json

FIRST = b"Starting delegate"  # the starting screen: the first frame
MARK = b"simulated models"  # the run header's badge: the session is up


def delegate_cmd() -> list[str]:
    script = Path(sys.executable).with_name("delegate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui.cli"]


def timed(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def first_frame(timeout: float = 30.0) -> tuple[float, float]:
    """Seconds from spawning `delegate --demo` in a pty to the first frame, and to the
    run header."""
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="160", LINES="48")
        cmd = [*delegate_cmd(), "--demo", "--db", f"{tmp}/runs.db", "--workspace", str(ws)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        seen = b""
        first: float | None = None
        try:
            while time.perf_counter() - t0 < timeout:
                ready, _, _ = select.select([master], [], [], 0.5)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                seen = seen[-len(FIRST) :] + chunk
                if first is None and FIRST in seen:
                    first = time.perf_counter() - t0
                if MARK in seen:
                    now = time.perf_counter() - t0
                    return (first if first is not None else now), now
            raise RuntimeError("no first frame seen")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            os.close(master)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=9, help="runs of each command (median shown)")
    args = p.parse_args()
    floor = timed([sys.executable, "-c", "pass"], args.runs)
    helps = timed([*delegate_cmd(), "--help"], args.runs)
    sdk = timed([sys.executable, "-c", "import anthropic"], max(3, args.runs // 3))
    tui = timed([sys.executable, "-c", "import textual.app, tui.app"], max(3, args.runs // 3))
    frames, runs = zip(*[first_frame() for _ in range(max(3, args.runs // 3))], strict=True)
    result: dict[str, Any] = {
        "python_pass_s": round(statistics.median(floor), 4),
        "help_s": round(statistics.median(helps), 4),
        "first_frame_s": round(statistics.median(frames), 4),
        "run_screen_s": round(statistics.median(runs), 4),
        "import_anthropic_s": round(statistics.median(sdk), 4),
        "import_tui_s": round(statistics.median(tui), 4),
        "all": {"python_pass": floor, "help": helps, "first_frame": frames, "run_screen": runs},
    }
    result["help_above_floor_s"] = round(result["help_s"] - result["python_pass_s"], 4)
    rows = [
        ["python -c pass (floor)", ms(result["python_pass_s"]), "", ""],
        ["delegate --help", ms(result["help_s"]), ms(result["help_above_floor_s"]), "< 300"],
        ["delegate --demo: first frame (starting screen)", ms(result["first_frame_s"]), "", ""],
        ["delegate --demo: run screen (session built)", ms(result["run_screen_s"]), "", ""],
        ["  of which: python -c 'import anthropic'", ms(result["import_anthropic_s"]), "", ""],
        ["  of which: python -c 'import tui.app'", ms(result["import_tui_s"]), "", ""],
    ]
    print(
        table(
            f"Start-up (median of {args.runs}; ms)", ["what", "ms", "above floor", "target"], rows
        )
    )
    write_json(args.json, {"benchmark": "startup", **result})


if __name__ == "__main__":
    main()
