"""The sandbox's cost per command: the same commands through `run_shell` with bubblewrap
and without it (`[sandbox] mode = "off"`, same allow-listed environment), median of N.

    python -m bench.sandbox [--runs 20] [--json PATH]

Commands: `true`, `python -c pass`, and `python -m pytest -q` on a small project (five
test files of four tests each) made in a scratch workspace. Runs alternate between the
two modes so a noisy neighbour hits both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ms, parser, table, write_json
from core.sandbox import SandboxSettings, detect_runner
from core.tools.shell import run_shell

PY = sys.executable  # the interpreter running this benchmark (its prefix is bound)


def _project(ws: Path) -> None:
    for i in range(5):
        tests = "".join(f"def test_{i}_{j}():\n    assert {j} + 1 > {j}\n\n" for j in range(4))
        (ws / f"test_mod{i}.py").write_text(tests)


async def _measure(runs: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        ws = Path(tmp).resolve()
        _project(ws)
        boxed = detect_runner(SandboxSettings(), ws)
        if not boxed.confined:
            raise SystemExit(f"no sandbox here: {boxed.reason}")
        plain = detect_runner(SandboxSettings(mode="off"), ws)
        commands = {
            "true": "true",
            "python -c pass": f"{PY} -c pass",
            "python -m pytest -q (20 tests)": f"{PY} -m pytest -q -p no:cacheprovider",
        }
        results: dict[str, dict[str, float]] = {}
        for name, command in commands.items():
            times: dict[str, list[float]] = {"sandbox": [], "none": []}
            for _ in range(runs):
                for label, runner in (("sandbox", boxed), ("none", plain)):
                    t0 = time.perf_counter()
                    result = await run_shell(command, ws, 120, 64_000, runner)
                    times[label].append(time.perf_counter() - t0)
                    if result.exit_code != 0:
                        raise SystemExit(f"{name} failed ({label}): {result.stderr_tail[-300:]}")
            results[name] = {label: statistics.median(v) for label, v in times.items()}
        return results


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    results = asyncio.run(_measure(args.runs))
    rows = [
        (name, ms(r["none"]), ms(r["sandbox"]), ms(r["sandbox"] - r["none"]))
        for name, r in results.items()
    ]
    header = ("command", "no sandbox ms", "sandbox ms", "overhead ms")
    print(table(f"median of {args.runs} runs each", header, rows))
    write_json(args.json, {"runs": args.runs, "results": results})


if __name__ == "__main__":
    main()
