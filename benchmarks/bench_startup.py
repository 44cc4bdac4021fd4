"""Time from `costdeck` process start to the first full Overview frame, on the demo snapshot.

Reference engine in the same run: a minimal Textual app that mounts one Static and exits after its
first frame (the floor any Textual app pays: interpreter + textual import + first compositor pass).
Target: under 1 second on the demo. Prints the median of N runs and the ratio.

    python benchmarks/bench_startup.py [--runs 5] [--db PATH]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", type=Path)
    args = ap.parse_args()
    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / "demo.db"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui.cli", "demo", "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"demo snapshot generated in {time.perf_counter() - t:.2f} s")
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
