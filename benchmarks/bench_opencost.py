"""OpenCost sync: 30 days of 2,000 pods from the loopback fake (tests/fake_opencost.py, run in its own
process), through the real adapter and `costdeck sync`: requests, seconds and rows of the first sync
(backfill) and of a daily incremental sync, then `costdeck report spend --by namespace`. Reference
in the same run: the same 31 requests fetched with plain httpx and thrown away (what the fake and
the transfer cost; the rest is costdeck: parsing, checking, writing).

    .venv/bin/python benchmarks/bench_opencost.py [--pods 2000] [--days 30]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_opencost import seeded_cluster  # noqa: E402
from tui.cli import main  # noqa: E402


class RemoteFake:
    """The fake in a child process (so its CPU does not share costdeck's GIL); counts requests."""

    def __init__(self, start: date, days: int, pods: int) -> None:
        import subprocess

        code = ("import sys, time; sys.path.insert(0, %r)\n"  # noqa: UP031
                "from datetime import date\n"
                "from tests.fake_opencost import FakeOpenCost, seeded_cluster\n"
                "f = FakeOpenCost(seeded_cluster(date.fromisoformat(%r), %d, n_pods=%d))\n"
                "f.__enter__(); print(f.url, flush=True)\n"
                "for line in sys.stdin:\n"
                "    print(len(f.requests), flush=True); f.requests.clear()\n"
                % (str(Path(__file__).resolve().parent.parent), start.isoformat(), days, pods))
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def count(self) -> int:
        """Requests since the last count."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def __enter__(self) -> RemoteFake:
        return self

    def __exit__(self, *a: object) -> None:
        self.proc.kill()
        self.proc.wait()


def run(argv: list[str]) -> tuple[int, float]:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = main(argv)
    return rc, time.perf_counter() - t


def main_bench() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    today = date(2026, 7, 30)
    os.environ["COSTDECK_NOW"] = f"{today.isoformat()}T12:00:00+00:00"
    start = today - timedelta(days=args.days - 1)
    cluster = seeded_cluster(start, args.days, n_pods=args.pods)
    with tempfile.TemporaryDirectory() as d, RemoteFake(start, args.days, args.pods) as fake:
        db = Path(d) / "bench.db"
        cfg = Path(d) / "config.toml"
        # backfill_months = 1 is July: exactly the 30 days with data (July 1 to 30)
        cfg.write_text(f'[sources.k8s]\nkind = "opencost"\nurl = "{fake.url}"\ncluster = "bench"\n'
                       "backfill_months = 1\n")
        rc, first = run(["sync", "--config", str(cfg), "--db", str(db)])
        n_first = fake.count()
        import sqlite3

        rows = sqlite3.connect(db).execute("SELECT count(*) FROM k8s_allocations").fetchone()[0]
        rc2, incr = run(["sync", "--config", str(cfg), "--db", str(db)])
        n_incr = fake.count()
        rc3, rep = run(["report", "spend", "--by", "namespace", "--format", "json", "--db", str(db)])
        # reference: the same requests, fetched and dropped
        import httpx

        t = time.perf_counter()
        with httpx.Client(base_url=fake.url, timeout=600) as c:
            for i in range(args.days):
                day = start + timedelta(days=i)
                w = f"{day.isoformat()}T00:00:00Z,{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
                c.get("/allocation/compute", params={"window": w, "step": "1d", "includeIdle": "true",
                      "idleByNode": "true", "aggregate": "cluster,node,namespace,controllerKind,controller,pod"})
            c.get("/assets", params={"window": w})
        server = time.perf_counter() - t
    print(f"pods {args.pods}, days {args.days}, nodes {len(cluster.nodes)}")
    print(f"first sync (backfill): exit {rc}, {n_first} requests ({args.days} allocation days + 1 assets), "
          f"{first:.1f} s, {rows:,} allocation rows")
    print(f"incremental sync: exit {rc2}, {n_incr} requests, {incr:.1f} s")
    print(f"report spend --by namespace: exit {rc3}, {rep * 1000:.0f} ms")
    print(f"reference, the same {args.days + 1} requests fetched and dropped: {server:.1f} s "
          f"(costdeck's own share of the first sync: {max(0.0, first - server):.1f} s)")


if __name__ == "__main__":
    main_bench()
