"""Start-up: the dashboard's first full Overview frame, and the scripted commands, on the demo.

1. App: time from `costdeck` process start to the first full Overview frame. Reference in the same
   run: a minimal Textual app that mounts one Static and exits after its first frame (the floor any
   Textual app pays). Target: under 1 second.
2. CLI: whole commands as a user runs them (process start, imports, config, query, output):
   `costdeck --help`, `costdeck sources`, `costdeck report spend --by service_name` (table and
   JSON). Reference in the same run: `python -c pass` (the interpreter's floor) and
   `python -c "import sqlite3, rich.console"` (what a minimal rich report pays). Target: `report
   spend` under 300 ms wall.

    .venv/bin/python benchmarks/bench_startup.py [--runs 9] [--db PATH] [--cli-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP_CODE = r"""
import sys
from tui.app import CostdeckApp
from tui.screens.overview import OverviewScreen

_orig = OverviewScreen.show
def show(self, ov):
    _orig(self, ov)
    # The frame with the data: exit right after the next refresh has been composed.
    self.app.call_after_refresh(self.app.exit)
OverviewScreen.show = show
CostdeckApp(sys.argv[1]).run(headless=True, size=(120, 40))
"""

REF_CODE = r"""
from textual.app import App
from textual.widgets import Static, Footer
class Hello(App):
    def compose(self):
        yield Static("hello")
        yield Footer()
    def on_mount(self):
        self.call_after_refresh(self.exit)
Hello().run(headless=True, size=(120, 40))
"""


def timed(code: str, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], check=True, env={**os.environ})
    return time.perf_counter() - t0


def timed_argv(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={**os.environ})
    return time.perf_counter() - t0


def cli(db: Path, runs: int) -> None:
    exe = str(Path(sys.executable).with_name("costdeck"))
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "python: import sqlite3, rich.console": [sys.executable, "-c", "import sqlite3, rich.console"],
        "costdeck --help": [exe, "--help"],
        "costdeck sources": [exe, "--db", str(db), "sources"],
        "costdeck report spend --by service_name": [exe, "--db", str(db), "report", "spend", "--by", "service_name"],
        "costdeck report spend ... --format json": [exe, "--db", str(db), "report", "spend", "--by",
                                                    "service_name", "--format", "json"],
    }
    for argv in cases.values():
        timed_argv(argv)  # warm the OS file cache and .pyc files
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):  # interleaved, so drift hits every case alike
        for name, argv in cases.items():
            results[name].append(timed_argv(argv))
    floor = statistics.median(results["python -c pass (floor)"])
    for name, ts in results.items():
        m = statistics.median(ts)
        print(f"{name:45s} median {m * 1000:5.0f} ms (min {min(ts) * 1000:4.0f}, max {max(ts) * 1000:4.0f}), "
              f"{m / floor:4.1f}x the interpreter floor")
    spend = statistics.median(results["costdeck report spend --by service_name"])
    print(f"target: report spend < 300 ms -> {'OK' if spend < 0.3 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--cli-only", action="store_true")
    args = ap.parse_args()
    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / "demo.db"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui.cli", "demo", "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"demo snapshot generated in {time.perf_counter() - t:.2f} s")
    cli(db, args.runs)
    if args.cli_only:
        return
    timed(APP_CODE, str(db))  # warm the OS file cache and .pyc files
    timed(REF_CODE)
    app_times = [timed(APP_CODE, str(db)) for _ in range(args.runs)]
    ref_times = [timed(REF_CODE) for _ in range(args.runs)]
    a, r = statistics.median(app_times), statistics.median(ref_times)
    print(f"costdeck start -> first full Overview frame: median {a * 1000:.0f} ms "
          f"(min {min(app_times) * 1000:.0f}, max {max(app_times) * 1000:.0f}) over {args.runs} runs")
    print(f"reference (minimal Textual app, first frame): median {r * 1000:.0f} ms")
    print(f"ratio costdeck / reference: {a / r:.2f}x   target: < 1000 ms -> {'OK' if a < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
