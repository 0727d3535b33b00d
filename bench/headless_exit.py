"""A short headless run through the real CLI: wall time, time spent after the summary
(interpreter shutdown), import time, and `--help` / `--version`.

    python -m bench.headless_exit [--runs 10] [--root CHECKOUT]

`--root` runs another checkout (say, an older commit unpacked with `git archive`) with
the same Python, for a before/after in one sitting. "after summary" is measured from
the moment the run's last stderr line (`run ID: STATUS ...`) arrives to the moment the
process has exited: what is left is flushing, closing and interpreter shutdown.
Two endpoints: the in-process simulator, and the simulator on a loopback port
(`http://`, through the SDK's HTTP client like any outside server).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ms, parser, table, write_json

TASK = "Research competitors and build a landing page"  # ends done (a check passes)
CONFIG = "[simulator]\ntokens_per_s = 20000\nlatency_s = 0\n"


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "DELEGATE_"))}
    return {**env, "PYTHONPATH": str(root), **extra}


def one_run(root: Path, tmp: Path, i: int, env: dict[str, str], simulate: bool) -> dict[str, Any]:
    ws = tmp / f"ws{i}"
    ws.mkdir()
    cmd = [sys.executable, "-m", "tui.cli", "run", TASK, "--quiet", "--workspace", str(ws)]
    cmd += ["--db", str(tmp / f"runs{i}.db"), "--config", str(tmp / "config.toml")]
    if simulate:
        cmd.append("--simulate")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
    )
    assert proc.stderr is not None and proc.stdout is not None
    summary_at = None
    err = b""
    for line in iter(proc.stderr.readline, b""):
        err += line
        if re.match(rb"run \S+: ", line):
            summary_at = time.perf_counter()
    out = proc.stdout.read()
    code = proc.wait()
    t_exit = time.perf_counter()
    proc.stdout.close()
    proc.stderr.close()
    assert summary_at is not None, err.decode(errors="replace")
    assert code == 0 and out.strip(), (code, err.decode(errors="replace"))
    return {"wall_s": t_exit - t0, "after_summary_s": t_exit - summary_at}


def timed(cmd: list[str], root: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=root, env=_env(root), check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "min_ms": ms(min(values)),
        "median_ms": ms(statistics.median(values)),
        "max_ms": ms(max(values)),
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = p.parse_args()
    root = args.root.resolve()
    results: dict[str, Any] = {"root": str(root), "load_avg": os.getloadavg()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-exit-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "config.toml").write_text(CONFIG)
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "simulator",
                "--port",
                "0",
                "--tokens-per-s",
                "20000",
            ],
            cwd=root,
            env=_env(root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert sim.stderr is not None
            url = re.search(r"http://127\.0\.0\.1:\d+", sim.stderr.readline())
            assert url, "the simulator did not start"
            loopback = _env(root, ANTHROPIC_BASE_URL=url.group(0), ANTHROPIC_API_KEY="any")
            for name, env, simulate in (
                ("in-process simulator", _env(root), True),
                ("loopback http:// server", loopback, False),
            ):
                runs = [one_run(root, tmp, n, env, simulate) for n in range(args.runs)]
                wall = _stats([r["wall_s"] for r in runs])
                after = _stats([r["after_summary_s"] for r in runs])
                results[name] = {"wall": wall, "after_summary": after}
                rows.append([f"run ({name})", wall["median_ms"], wall["min_ms"], wall["max_ms"]])
                rows.append(["  after the summary", after["median_ms"], after["min_ms"],
                             after["max_ms"]])  # fmt: skip
                for path in tmp.iterdir():
                    if path.is_dir():
                        shutil.rmtree(path)
                    elif path.name != "config.toml":
                        path.unlink()
        finally:
            sim.terminate()
            sim.wait(10)
            if sim.stderr is not None:
                sim.stderr.close()
    py = [sys.executable]
    for name, cmd in (
        ("python -c pass", [*py, "-c", "pass"]),
        ("import anthropic", [*py, "-c", "import anthropic"]),
        (
            "imports of a run",
            [*py, "-c", "import tui.cli, tui.headless, core.session, core.store"],
        ),
        ("delegate --help", [*py, "-m", "tui.cli", "--help"]),
        ("delegate run --help", [*py, "-m", "tui.cli", "run", "--help"]),
        ("delegate --version", [*py, "-m", "tui.cli", "--version"]),
    ):
        s = _stats(timed(cmd, root, args.runs))
        results[name] = s
        rows.append([name, s["median_ms"], s["min_ms"], s["max_ms"]])
    title = f"{root} (load average {results['load_avg'][0]:.2f}), {args.runs} runs each"
    print(table(title, ["what", "median ms", "min ms", "max ms"], rows))
    write_json(args.json, results)


if __name__ == "__main__":
    main()
