"""Utilization profile of a tracked command (`costdeck track`): CPU and memory of its process tree,
GPU utilization and GPU memory of the host's GPUs, sampled at a bounded interval in a thread.

* CPU: the summed CPU percent of the command and all its descendants (psutil), divided by the
  host's logical CPU count, so 100 means every core busy (the same scale as the other sources'
  `cpu` series once normalised). Memory: the tree's resident memory as a percent of the host's.
* GPU: NVML through `nvidia-ml-py` (module `pynvml`) when it imports and finds a device; else
  `nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`
  when `nvidia-smi` is on PATH and answers. GPU figures are the host's GPUs (NVML does not
  attribute utilization to processes): `gpu` is the mean utilization over the devices,
  `gpu_memory` the memory used over the memory installed, and `gpus` the device count. With
  neither, no GPU series is recorded: nothing is invented.
* Interval: `interval_s` clamped to [MIN_INTERVAL_S, MAX_INTERVAL_S] (the command line's
  --sample-interval, default 5 s). A run longer than MAX_SAMPLES intervals keeps every other
  sample and doubles the interval, so memory and the cache stay bounded on runs of any length.
* The first tick primes psutil's per-process counters (a process's first reading is 0 by
  definition), so the CPU series starts at the second tick.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 300.0
DEFAULT_INTERVAL_S = 5.0
MAX_SAMPLES = 4096
SMI_TIMEOUT_S = 5.0
METRICS = ("cpu", "memory", "gpu", "gpu_memory")


@dataclass(frozen=True, slots=True)
class Sample:
    metric: str
    ts: datetime
    value: float
    gpus: int | None = None


GpuReading = tuple[float, float | None, int]  # (mean utilization %, memory used %, device count)


def nvml_reader() -> Callable[[], GpuReading | None] | None:
    """A reader over NVML, or None when nvidia-ml-py is missing or finds no GPU."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        n = int(pynvml.nvmlDeviceGetCount())
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
    except Exception:  # noqa: BLE001 - no driver, no device: no GPU series
        return None
    if not handles:
        return None

    def read() -> GpuReading | None:
        try:
            util = [float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in handles]
            mems = [pynvml.nvmlDeviceGetMemoryInfo(h) for h in handles]
        except Exception:  # noqa: BLE001 - a failed read is a missing sample
            return None
        total = sum(float(m.total) for m in mems)
        used = sum(float(m.used) for m in mems)
        return sum(util) / len(util), (used * 100.0 / total if total > 0 else None), len(util)

    return read


def parse_smi(text: str) -> GpuReading | None:
    """`nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`
    output (one line per GPU) -> reading; None when no line parses."""
    utils: list[float] = []
    used = total = 0.0
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            u, mu, mt = float(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:  # "[N/A]" on some devices
            continue
        utils.append(u)
        used += mu
        total += mt
    if not utils:
        return None
    return sum(utils) / len(utils), (used * 100.0 / total if total > 0 else None), len(utils)


def smi_reader(exe: str | None = None) -> Callable[[], GpuReading | None] | None:
    """A reader over `nvidia-smi` when it is on PATH and answers with at least one GPU, else None."""
    exe = exe or shutil.which("nvidia-smi")
    if not exe:
        return None
    cmd = [exe, "--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"]

    def read() -> GpuReading | None:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return parse_smi(out.stdout) if out.returncode == 0 else None

    return read if read() is not None else None


def gpu_reader() -> tuple[Callable[[], GpuReading | None] | None, str | None]:
    """(reader, what it reads through): NVML first, then nvidia-smi, else (None, None)."""
    r = nvml_reader()
    if r is not None:
        return r, "nvml"
    r = smi_reader()
    if r is not None:
        return r, "nvidia-smi"
    return None, None


class Profiler:
    """Samples a process tree in a daemon thread until `stop()`; `samples` holds the result."""

    def __init__(self, pid: int, interval_s: float = DEFAULT_INTERVAL_S, *,
                 gpu: Callable[[], GpuReading | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        import psutil

        self._psutil = psutil
        self.interval_s = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, float(interval_s)))
        self.samples: list[Sample] = []
        self._gpu = gpu
        self._clock = clock
        self._stop = threading.Event()
        self._procs: dict[int, Any] = {}
        self._ncpu = psutil.cpu_count() or 1
        self._mem_total = float(psutil.virtual_memory().total) or 1.0
        try:
            self._root = psutil.Process(pid)
        except psutil.Error:
            self._root = None
        self._thread = threading.Thread(target=self._loop, name="costdeck-profiler", daemon=True)

    def start(self) -> Profiler:
        self._tick()  # primes the CPU counters
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=SMI_TIMEOUT_S + 1)
        return self.samples

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._tick()
            if len(self.samples) > MAX_SAMPLES * len(METRICS):
                self._thin()

    def _thin(self) -> None:
        stamps = sorted({s.ts for s in self.samples})
        keep = set(stamps[::2])
        self.samples = [s for s in self.samples if s.ts in keep]
        self.interval_s = min(MAX_INTERVAL_S, self.interval_s * 2)

    def _tick(self) -> None:
        ps = self._psutil
        now = self._clock()
        first = not self._procs
        cpu = rss = 0.0
        alive = False
        if self._root is not None:
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except ps.Error:
                tree = []
            seen: dict[int, Any] = {}
            for p in tree:
                proc = self._procs.get(p.pid, p)
                try:
                    pct = proc.cpu_percent(None)  # since this process's previous reading
                    rss += float(proc.memory_info().rss)
                except ps.Error:
                    continue
                alive = True
                if p.pid in self._procs:
                    cpu += pct
                seen[p.pid] = proc
            self._procs = seen
        if alive and not first:
            self.samples.append(Sample("cpu", now, round(min(100.0, cpu / self._ncpu), 2)))
            self.samples.append(Sample("memory", now, round(min(100.0, rss * 100.0 / self._mem_total), 2)))
        if self._gpu is not None and not first:
            g = self._gpu()
            if g is not None:
                util, mem, n = g
                self.samples.append(Sample("gpu", now, round(util, 2), n))
                if mem is not None:
                    self.samples.append(Sample("gpu_memory", now, round(mem, 2), n))


def own_cpu_seconds() -> float:
    """CPU seconds used by this process so far (all its threads, children excluded)."""
    return time.process_time()


__all__ = ["DEFAULT_INTERVAL_S", "MAX_INTERVAL_S", "MIN_INTERVAL_S", "Profiler", "Sample", "gpu_reader",
           "nvml_reader", "own_cpu_seconds", "parse_smi", "smi_reader"]
