"""`costdeck track -- CMD ARGS...`: run a command and record it as an ML run (source "track").

* The command runs as a child process with stdin, stdout and stderr passed through. Its exit
  status is returned unchanged (a signal death -> 128 + the signal number, as shells report it).
  A command that cannot be found -> 127, one that cannot be executed -> 126, one line each, and
  no run is recorded.
* Signals: SIGTERM and SIGHUP sent to costdeck are forwarded to the command. Ctrl-C: when the
  terminal delivered SIGINT to the whole foreground process group (the usual case), the command
  got it already and costdeck just keeps waiting for it to finish; a SIGINT sent to costdeck alone
  (`kill -INT`) is forwarded.
* The run is written when the command starts (status "running", so the dashboard shows it live)
  and completed when it ends: start, end (millisecond precision), exit status (exit_code), status
  completed (0) / failed (non-zero) / stopped (killed by a signal), duration
  (properties.duration_s, from the monotonic clock), host (the host name), the command line,
  working directory and user.
* Executor: instance type, count, provider and region from the flags; else, from the cloud
  instance metadata when available: AWS IMDSv2 (instance type, region, instance id -> the
  executor's resource_id, so the run's cost comes from the billed cost of that instance when the
  cache holds it). The lookup is an injectable function with a very short timeout, and is skipped
  when COSTDECK_NO_IMDS=1 (the tests set it) or when --instance-type is given. With neither, the
  run has no executor and its cost shows as unknown. --provider takes any non-empty name, the
  aws/azure/gcp spellings normalised, exactly as the `provider` field of a JSON Lines run log
  (`runs_jsonl.check_provider`); an empty one exits 2 before the command runs.
* The demo cache (`store.is_demo()`) is refused BEFORE the command runs (exit 2, nothing
  executed): a `track` source in it would stop `costdeck demo` from regenerating it.
* Each tracked run records one sync run of the `track` source (status ok, rows written, finished
  time), written when the run starts and updated when it ends, and touches the snapshot time, so
  `costdeck sources` shows when the source last received data.
* Profile (providers/profiler.py): while the command runs, CPU and memory of its process tree
  and the host's GPU utilization and memory (NVML, else nvidia-smi, else none) are sampled every
  --sample-interval seconds (default 5, 0 turns profiling off) into ml_profiles, host = the host
  name; properties.gpu_source says where GPU figures came from.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cache import CacheError, Store
from cache.store import SyncRun

from .errors import InputError
from .runs_jsonl import ExecutorRecord, RunRecord, check_provider, provider_name, write_runs

SOURCE_NAME = "track"
SOURCE_KIND = "track"
IMDS_URL = "http://169.254.169.254"
IMDS_TIMEOUT_S = 0.3


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    instance_type: str
    provider: str = "AWS"
    region: str | None = None
    instance_id: str | None = None


def aws_imds(timeout: float = IMDS_TIMEOUT_S) -> InstanceInfo | None:
    """The EC2 instance this runs on, from IMDSv2 (None off EC2, or when COSTDECK_NO_IMDS=1)."""
    if os.environ.get("COSTDECK_NO_IMDS") == "1":
        return None
    import httpx

    try:
        with httpx.Client(base_url=IMDS_URL, timeout=timeout, trust_env=False) as c:
            token = c.put("/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            if token.status_code != 200:
                return None
            h = {"X-aws-ec2-metadata-token": token.text}

            def get(path: str) -> str | None:
                r = c.get(f"/latest/meta-data/{path}", headers=h)
                return r.text.strip() if r.status_code == 200 and r.text.strip() else None

            itype = get("instance-type")
            if not itype:
                return None
            return InstanceInfo(instance_type=itype, provider="AWS", region=get("placement/region"),
                                instance_id=get("instance-id"))
    except httpx.HTTPError:
        return None


@dataclass(slots=True)
class TrackOptions:
    task: str | None = None
    name: str | None = None
    instance_type: str | None = None
    count: int = 1
    provider: str | None = None
    region: str | None = None
    sample_interval_s: float | None = None  # None: profiler.DEFAULT_INTERVAL_S; 0: no profile


@dataclass(slots=True)
class TrackResult:
    run_id: str | None
    exit_status: int
    duration_s: float
    status: str
    error: str | None = None
    executor: InstanceInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def exit_status(returncode: int) -> int:
    return 128 + (-returncode) if returncode < 0 else returncode


def run_tracked(
    db_path: str | os.PathLike[str],
    command: Sequence[str],
    opts: TrackOptions,
    *,
    metadata: Callable[[], InstanceInfo | None] = aws_imds,
    gpu: Callable[[], Any] | None | bool = True,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
) -> TrackResult:
    """Run `command`, record it, return its exit status (see the module docstring).

    gpu: True finds the GPU reader (profiler.gpu_reader), False/None records no GPU series, or a
    reader function (tests)."""
    if not command:
        raise InputError("track: no command given (usage: costdeck track [OPTIONS] -- CMD ARGS...)")
    if opts.count < 1:
        raise InputError(f"track: --count must be 1 or more, got {opts.count}")
    if opts.provider is not None:
        try:
            check_provider(opts.provider)
        except ValueError as exc:
            raise InputError(f"track: --provider: {exc}") from None
    _refuse_demo(db_path)
    info: InstanceInfo | None = None
    instance_source = None
    if opts.instance_type:
        info = InstanceInfo(instance_type=opts.instance_type, provider=provider_name(opts.provider) or "",
                            region=opts.region)
        instance_source = "flag"
    else:
        found = metadata()
        if found is not None:
            info = InstanceInfo(instance_type=found.instance_type,
                                provider=provider_name(opts.provider) or found.provider,
                                region=opts.region or found.region, instance_id=found.instance_id)
            instance_source = "instance metadata"
    run_id = f"track-{uuid.uuid4().hex}"
    task = opts.task or Path(command[0]).name
    name = opts.name or " ".join(command)[:200]
    host = socket.gethostname()
    props: dict[str, Any] = {"platform": "track", "command": list(command), "cwd": os.getcwd(),
                             "user": _user(), "pid": os.getpid()}
    if instance_source:
        props["instance_source"] = instance_source

    start = clock()
    t0 = time.monotonic()
    try:
        child = subprocess.Popen(list(command), stdin=stdin, stdout=stdout, stderr=stderr)
    except FileNotFoundError:
        return TrackResult(None, 127, 0.0, "not started", error=f"track: command not found: {command[0]}")
    except PermissionError:
        return TrackResult(None, 126, 0.0, "not started", error=f"track: permission denied: {command[0]}")
    except OSError as exc:
        return TrackResult(None, 126, 0.0, "not started",
                           error=f"track: cannot run {command[0]}: {exc.strerror or exc}")

    prof = None
    if opts.sample_interval_s != 0:
        from .profiler import DEFAULT_INTERVAL_S, Profiler, gpu_reader

        reader, via = gpu_reader() if gpu is True else (gpu or None, "injected" if gpu else None)
        if via:
            props["gpu_source"] = via
        try:
            prof = Profiler(child.pid, opts.sample_interval_s or DEFAULT_INTERVAL_S, gpu=reader, clock=clock).start()
            props["sample_interval_s"] = prof.interval_s
        except Exception:  # noqa: BLE001 - a profile is a bonus; the command runs regardless
            prof = None
    sync: list[SyncRun | None] = [None]  # the sync run of this tracked run, once written

    samples: list[tuple[str, str, datetime, float, int | None]] = []

    def record(status: str, end: datetime | None, code: int | None, duration: float | None) -> None:
        execs = []
        if info is not None:
            execs.append(ExecutorRecord(
                instance_type=info.instance_type, instance_count=opts.count, provider_name=info.provider or None,
                region_id=info.region, resource_id=info.instance_id, start_at=start, end_at=end,
                billable_seconds=None if duration is None else max(0, round(duration)),
            ))
        p = dict(props)
        if duration is not None:
            p["duration_s"] = round(duration, 3)
        rec = RunRecord(run_id=run_id, task=task, name=name, status=status, start_at=start, end_at=end,
                        host=host, exit_code=code, properties=p, executors=execs, profile=samples)
        with Store(db_path) as store:
            if store.is_demo():  # it became the demo cache while the command ran
                raise InputError(_demo_message(db_path))
            with store.transaction():
                sid = store.ensure_source(SOURCE_NAME, SOURCE_KIND)
                n = write_runs(store, sid, [rec], in_transaction=True)
                # one sync run per tracked run: made when it starts, updated (same row) when it ends
                run = sync[0]
                if run is None or run.source_id != sid:
                    run = sync[0] = store.start_sync_run(sid)
                run.rows = n
                run.detail = {"kind": "track", "run_id": run_id, "status": status}
                store.finish_sync_run(run, "ok")
                store.touch_snapshot()

    record_error: str | None = None
    try:
        record("running", None, None, None)
    except Exception as exc:  # noqa: BLE001 - the command still runs; the run is written at the end
        record_error = str(exc)
    restore = _forward_signals(child)
    try:
        while True:
            try:
                rc = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - only when SIGINT is not handled below
                continue
    finally:
        restore()
    if prof is not None:
        samples.extend((host, x.metric, x.ts, x.value, x.gpus) for x in prof.stop())
        props["sample_interval_s"] = prof.interval_s
    duration = time.monotonic() - t0
    end = clock()
    # the wall clock may step; the duration comes from the monotonic clock, so keep end consistent
    if (end - start).total_seconds() < duration - 1:
        end = start + timedelta(seconds=duration)
    status = "completed" if rc == 0 else "stopped" if rc < 0 else "failed"
    code = exit_status(rc)
    try:
        record(status, end, code, duration)
    except Exception as exc:  # noqa: BLE001 - never lose the command's exit status over the cache
        record_error = str(exc)
    return TrackResult(run_id, code, duration, status,
                       error=f"track: the run was not recorded: {record_error}" if record_error else None,
                       executor=info)


def _demo_message(db_path: str | os.PathLike[str]) -> str:
    return (f"track: {db_path} is the demo cache; record runs into your own cache with --db PATH "
            "(or COSTDECK_DB); the command was not run")


def _refuse_demo(db_path: str | os.PathLike[str]) -> None:
    """InputError when db_path is the demo cache. Read-only, and never creates the file; a cache
    that cannot be read is left to the recording step (the command still runs, as before)."""
    if not Path(db_path).expanduser().exists():
        return
    try:
        with Store(db_path, readonly=True) as store:
            demo = store.is_demo()
    except (CacheError, OSError, sqlite3.Error):
        return
    if demo:
        raise InputError(_demo_message(db_path))


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return None


def _forward_signals(child: subprocess.Popen[Any]) -> Callable[[], None]:
    """Forward SIGTERM/SIGHUP (and a SIGINT not from the terminal) to the child; returns a restorer."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    saved: dict[int, Any] = {}

    def from_terminal() -> bool:
        try:
            fd = sys.stdin.fileno()
            return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
        except (OSError, ValueError, AttributeError):
            return False

    def handler(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and from_terminal():
            return  # the child is in our foreground process group: it got the Ctrl-C too
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None:
            continue
        try:
            saved[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass

    def restore() -> None:
        for sig, h in saved.items():
            try:
                signal.signal(sig, h)
            except (ValueError, OSError):
                pass

    return restore


__all__ = ["IMDS_TIMEOUT_S", "InstanceInfo", "TrackOptions", "TrackResult", "aws_imds", "exit_status",
           "run_tracked"]
