"""`costdeck track` sampling overhead: CPU seconds used by costdeck itself per minute of a tracked
run, at the default sample interval, against the same run tracked with profiling off (the
reference: process start, cache writes). The tracked command sleeps, so every CPU second counted
is costdeck's own (os.times of this process: the command's time is a child's, not counted).

    python benchmarks/bench_track.py [SECONDS]   # default 30 s per run
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["COSTDECK_NO_IMDS"] = "1"

from providers import track  # noqa: E402
from providers.profiler import DEFAULT_INTERVAL_S, own_cpu_seconds  # noqa: E402


def measure(db: Path, seconds: float, interval: float) -> tuple[float, int]:
    before = own_cpu_seconds()
    res = track.run_tracked(db, ["sleep", str(seconds)], track.TrackOptions(task="bench", sample_interval_s=interval))
    used = own_cpu_seconds() - before
    import sqlite3

    n = sqlite3.connect(db).execute("SELECT count(*) FROM ml_profiles WHERE run_id=?", (res.run_id,)).fetchone()[0]
    return used * 60.0 / res.duration_s, n


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "bench.db"
        # create the cache, import psutil and find the GPU reader once (one-off costs of any run)
        track.run_tracked(db, ["true"], track.TrackOptions(task="warm", sample_interval_s=0))
        track.run_tracked(db, ["sleep", "0.2"], track.TrackOptions(task="warm", sample_interval_s=0.1))
        off, _ = measure(db, seconds, 0)
        on, n = measure(db, seconds, DEFAULT_INTERVAL_S)
        fast, nf = measure(db, seconds, 1.0)
    print(f"tracked run: sleep {seconds:g} s")
    print(f"profiling off (reference):      {off * 1000:8.1f} ms CPU per minute of run")
    print(f"profiling every {DEFAULT_INTERVAL_S:g} s (default): {on * 1000:8.1f} ms CPU per minute of run "
          f"({n} samples), {on / off if off else float('nan'):.2f}x the reference")
    print(f"profiling every 1 s:            {fast * 1000:8.1f} ms CPU per minute of run ({nf} samples)")
    print(f"sampling itself at the default: {(on - off) * 1000:8.1f} ms CPU per minute = "
          f"{(on - off) / 60 * 100:.3f}% of one core")


if __name__ == "__main__":
    main()
