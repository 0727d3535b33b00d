"""`python -m core.sandbox [--require]`: say how commands would run here (exit 1 with
--require when no sandbox can start)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.sandbox import SandboxSettings, detect_runner


def main(argv: list[str]) -> int:
    runner = detect_runner(SandboxSettings(), Path.cwd().resolve())
    print(runner.describe())
    if runner.bwrap is not None:
        print(f"bwrap: {runner.bwrap.path}")
    return 1 if "--require" in argv and not runner.confined else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
