"""`costdeck import runs.jsonl` (good, bad, re-import) and `costdeck track -- CMD`."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest

from analysis import mlruns
from cache import Store
from providers import track
from providers.runs_jsonl import is_run_log
from tui.cli import main


@pytest.fixture(autouse=True)
def _no_imds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NO_IMDS", "1")  # never contact 169.254.169.254


def write_lines(path: Path, *objs: object) -> Path:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs), encoding="utf-8")
    return path


GOOD = [
    {"run_id": "r-1", "task": "resnet", "name": "lr=1e-3", "status": "finished", "start": "2026-05-01T22:00:00Z",
     "end": "2026-05-02T01:30:00+02:00", "host": "gpu-box",
     "executors": [{"instance_type": "p3.2xlarge", "count": 2, "provider": "aws", "region": "us-east-1"}],
     "metrics": {"val_accuracy": [[0, 0.5], [1, 0.8], [2, 0.9]], "loss": 0.2},
     "params": {"lr": 0.001, "aug": True}, "primary_metric": "val_accuracy"},
    {"run_id": "r-2", "task": "resnet", "status": "running", "start": "2026-05-03T10:00:00+00:00",
     "metrics": {"val_accuracy": 0.7}},
]


def test_import_jsonl_good_then_reimport_replaces(db_path: Path, tmp_path: Path, capsys) -> None:
    log = write_lines(tmp_path / "runs.jsonl", GOOD[0], "", GOOD[1])
    assert main(["import", "--db", str(db_path), str(log)]) == 0
    assert "2 ML runs" in capsys.readouterr().out
    with Store(db_path) as s:
        r = s.conn.execute("SELECT task, name, status, start_at, end_at, host, primary_metric, primary_value "
                           "FROM ml_runs WHERE run_id='r-1'").fetchone()
        assert tuple(r) == ("resnet", "lr=1e-3", "completed", "2026-05-01T22:00:00+00:00",
                            "2026-05-01T23:30:00+00:00", "gpu-box", "val_accuracy", 0.9)
        ex = s.conn.execute("SELECT provider_name, instance_type, instance_count, region_id FROM ml_executors "
                            "WHERE run_id='r-1'").fetchall()
        assert [tuple(e) for e in ex] == [("AWS", "p3.2xlarge", 2, "us-east-1")]
        pts = s.conn.execute("SELECT key, step, value FROM ml_run_metrics WHERE run_id='r-1' ORDER BY key, step")
        assert [tuple(p) for p in pts] == [("loss", 0, 0.2), ("val_accuracy", 0, 0.5), ("val_accuracy", 1, 0.8),
                                           ("val_accuracy", 2, 0.9)]
        params = dict(s.conn.execute("SELECT key, value FROM ml_run_params WHERE run_id='r-1'").fetchall())
        assert params == {"lr": "0.001", "aug": "true"}
        assert s.conn.execute("SELECT primary_metric FROM ml_runs WHERE run_id='r-2'").fetchone()[0] == "val_accuracy"
        src = s.conn.execute("SELECT s.name, s.kind FROM sources s JOIN ml_runs r ON r.source_id = s.id "
                             "WHERE r.run_id='r-1'").fetchone()
        assert tuple(src) == ("runs:runs.jsonl", "runs")
    # re-import: r-1 changed (one executor, no metrics), r-2 not in the file any more: kept
    changed = {**GOOD[0], "executors": [{"instance_type": "g5.xlarge"}], "metrics": {}, "status": "failed"}
    changed.pop("primary_metric")
    log2 = write_lines(tmp_path / "more.ndjson", changed)
    assert main(["import", "--db", str(db_path), str(log2)]) == 0
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 2
        assert s.conn.execute("SELECT status FROM ml_runs WHERE run_id='r-1'").fetchone()[0] == "failed"
        assert [tuple(e) for e in s.conn.execute("SELECT instance_type, instance_count FROM ml_executors "
                                                 "WHERE run_id='r-1'")] == [("g5.xlarge", 1)]
        assert s.conn.execute("SELECT count(*) FROM ml_run_metrics WHERE run_id='r-1'").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ('{"run_id": "x", "task": "t", "status": "completed"}', "line 2: field start: missing"),
        ('{"run_id": "x", "task": "t", "status": "done", "start": "2026-01-01T00:00:00Z"}', "line 2: field status:"),
        ('{"run_id": "x", "task": "t", "status": "completed", "start": "2026-01-01T00:00:00"}',
         "line 2: field start: \"2026-01-01T00:00:00\" has no time zone"),
        ('{"run_id": "x", "task": "t", "status": "completed", "start": "2026-01-01T00:00:00Z", '
         '"executors": [{"count": 2}]}', "line 2: field executors[0].instance_type: missing"),
        ('{"run_id": "x", "task": "t", "status": "completed", "start": "2026-01-01T00:00:00Z", '
         '"executors": [{"instance_type": "m5.large", "count": 0}]}', "line 2: field executors[0].count:"),
        ('{"run_id": "x", "task": "t", "status": "completed", "start": "2026-01-01T00:00:00Z", '
         '"metrics": {"acc": "high"}}', "line 2: field metrics.acc: expected a finite number"),
        ('{"run_id": "x", "task": "t", "status": "completed", "start": "2026-01-01T00:00:00Z", '
         '"metrics": {"acc": 1}, "primary_metric": "auc"}', "line 2: field primary_metric:"),
        ('{"run_id": "x", "task": "t"', "line 2: not valid JSON"),
        ('[1, 2]', "line 2: field (line): expected a JSON object"),
    ],
)
def test_bad_line_exits_2_one_line_and_writes_nothing(db_path: Path, tmp_path: Path, capsys, line: str,
                                                      expect: str) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text(json.dumps(GOOD[1]) + "\n" + line + "\n", encoding="utf-8")
    assert main(["import", "--db", str(db_path), str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(log) in err[0] and expect in err[0], err
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 0  # the good line 1 too


def test_run_log_detected_by_content(tmp_path: Path, db_path: Path) -> None:
    log = write_lines(tmp_path / "runs.log", GOOD[1])
    csv = tmp_path / "focus.csv"
    csv.write_text("BilledCost,ChargePeriodStart\n1,2026-01-01\n", encoding="utf-8")
    assert is_run_log(log) and not is_run_log(csv) and is_run_log(tmp_path / "missing.jsonl")
    assert main(["import", "--db", str(db_path), str(log)]) == 0
    with Store(db_path) as s:
        assert [r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs")] == ["r-2"]


def test_track_records_duration_and_exit_status(db_path: Path, capfd) -> None:
    code = main(["track", "--db", str(db_path), "--task", "sleepy", "--instance-type", "m5.large", "--count", "2",
                 "--provider", "aws", "--region", "us-east-1", "--",
                 sys.executable, "-c", "import time,sys; time.sleep(0.3); print('out!'); sys.exit(3)"])
    assert code == 3
    assert "out!" in capfd.readouterr().out  # stdout passed through
    with Store(db_path) as s:
        (r,) = mlruns.load_runs(s.conn)
        (src,) = [x.name for x in s.list_sources()]
    assert src == "track" and r.source == "track"
    assert r.task == "sleepy" and r.status == "failed" and r.exit_code == 3
    assert r.duration_s >= 0.3 and r.properties["duration_s"] >= 0.3
    assert r.end is not None and r.host
    assert r.executors_label == "m5.large x2" and r.executors[0].provider_name == "AWS"
    assert r.properties["command"][-1].endswith("sys.exit(3)")


def test_track_success_not_found_and_no_executor(db_path: Path, capsys) -> None:
    assert main(["track", "--db", str(db_path), "--", sys.executable, "-c", "pass"]) == 0
    assert main(["track", "--db", str(db_path), "--", "no-such-command-costdeck-xyz", "--flag"]) == 127
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["costdeck: error: track: command not found: no-such-command-costdeck-xyz"]
    assert main(["track", "--db", str(db_path)]) == 2  # no command
    with Store(db_path) as s:
        (r,) = mlruns.load_runs(s.conn)  # the command that was not found is not recorded
    assert r.status == "completed" and r.exit_code == 0
    assert r.cost is None and "no executor" in (r.reason or "")


def test_track_uses_instance_metadata_when_available(db_path: Path) -> None:
    calls = []

    def fake_imds() -> track.InstanceInfo:
        calls.append(1)
        return track.InstanceInfo(instance_type="g5.xlarge", provider="AWS", region="eu-west-1",
                                  instance_id="i-0123")

    res = track.run_tracked(db_path, [sys.executable, "-c", "raise SystemExit(0)"], track.TrackOptions(task="t"),
                            metadata=fake_imds)
    assert res.exit_status == 0 and calls == [1]
    with Store(db_path) as s:
        e = s.conn.execute("SELECT instance_type, region_id, resource_id, provider_name FROM ml_executors").fetchone()
        props = json.loads(s.conn.execute("SELECT properties FROM ml_runs").fetchone()[0])
    assert tuple(e) == ("g5.xlarge", "eu-west-1", "i-0123", "AWS")
    assert props["instance_source"] == "instance metadata"
    # a flag wins and the metadata is not asked
    track.run_tracked(db_path, [sys.executable, "-c", "pass"], track.TrackOptions(instance_type="m5.large"),
                      metadata=fake_imds)
    assert calls == [1]
    # COSTDECK_NO_IMDS=1 (set for every test here): the real lookup returns None without any request
    assert track.aws_imds() is None


def test_track_signal_death_is_128_plus_signal(db_path: Path) -> None:
    res = track.run_tracked(db_path, [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
                            track.TrackOptions(task="sig"))
    assert res.exit_status == 143 and res.status == "stopped"


# -- review fixes: future starts, provider names, the demo cache, sync runs ---------------------------
NOW = "2026-05-04T00:00:00+00:00"


def _line(**kw: object) -> dict[str, object]:
    return {"run_id": "x", "task": "t", "status": "completed", "start": "2026-05-03T10:00:00Z", **kw}


@pytest.mark.parametrize(
    ("obj", "expect"),
    [
        (_line(start="2026-05-04T00:10:00Z"),
         'line 2: field start: "2026-05-04T00:10:00Z" is in the future (now 2026-05-04T00:00:00+00:00)'),
        (_line(status="running", start="2026-05-04T03:00:00+02:00", end=None),  # 01:00 UTC
         'line 2: field start: "2026-05-04T03:00:00+02:00" is in the future'),
        (_line(end="2026-05-05T00:00:00Z"), 'line 2: field end: "2026-05-05T00:00:00Z" is in the future'),
        (_line(executors=[{"instance_type": "m5.large", "provider": ""}]),
         "line 2: field executors[0].provider: expected a non-empty string"),
        (_line(executors=[{"instance_type": "m5.large", "provider": "x" * 300}]),
         "line 2: field executors[0].provider: longer than 256 characters"),
    ],
)
def test_future_runs_and_bad_providers_are_refused(db_path: Path, tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch, obj: dict[str, object],
                                                   expect: str) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    log = write_lines(tmp_path / "bad.jsonl", GOOD[1], obj)
    assert main(["import", "--db", str(db_path), str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{log}: {expect}" in err[0], err
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 0


def test_clock_skew_scheduled_runs_and_any_provider_accepted(db_path: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    log = write_lines(
        tmp_path / "ok.jsonl",
        # a few minutes of clock skew between the trainer and this machine is tolerated
        _line(run_id="skew", status="running", start="2026-05-04T00:04:59Z"),
        # a scheduled run may start later
        _line(run_id="later", status="scheduled", start="2026-05-10T00:00:00Z"),
        _line(run_id="cw", executors=[{"instance_type": "H100", "provider": " CoreWeave "},
                                      {"instance_type": "a2-highgpu-1g", "provider": "GCP"},
                                      {"instance_type": "NC6", "provider": "azure"}]),
    )
    assert main(["import", "--db", str(db_path), str(log)]) == 0
    with Store(db_path) as s:
        assert {r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs")} == {"skew", "later", "cw"}
        provs = [r[0] for r in s.conn.execute("SELECT provider_name FROM ml_executors ORDER BY rowid")]
    assert provs == ["CoreWeave", "Google Cloud", "Microsoft"]


def test_track_provider_flag_like_the_run_log(db_path: Path, capsys) -> None:
    assert main(["track", "--db", str(db_path), "--instance-type", "H100", "--provider", "CoreWeave", "--",
                 sys.executable, "-c", "pass"]) == 0
    assert main(["track", "--db", str(db_path), "--instance-type", "NC6", "--provider", "AZURE", "--",
                 sys.executable, "-c", "pass"]) == 0
    with Store(db_path) as s:
        provs = sorted(r[0] for r in s.conn.execute("SELECT provider_name FROM ml_executors"))
    assert provs == ["CoreWeave", "Microsoft"]
    marker = db_path.parent / "ran"
    capsys.readouterr()
    assert main(["track", "--db", str(db_path), "--instance-type", "NC6", "--provider", " ", "--",
                 sys.executable, "-c", f"open({str(marker)!r}, 'w')"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["costdeck: error: track: --provider: expected a non-empty provider name, got \" \""]
    assert not marker.exists()  # refused before the command ran


def _demo_cache(path: Path) -> None:
    from providers import demo

    with Store(path) as s:
        demo.generate(s, as_of=date(2026, 6, 30))


def test_track_and_run_log_refuse_the_demo_cache(tmp_path: Path, capsys) -> None:
    demo_db = tmp_path / "demo.db"
    _demo_cache(demo_db)
    with Store(demo_db) as s:
        before = (s.table_counts(), s.get_meta("snapshot_time"))
    marker = tmp_path / "ran"
    capsys.readouterr()
    assert main(["track", "--db", str(demo_db), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"costdeck: error: track: {demo_db} is the demo cache; record runs into your own cache with "
                   "--db PATH (or COSTDECK_DB); the command was not run"]
    assert not marker.exists()
    log = write_lines(tmp_path / "runs.jsonl", GOOD[1])
    assert main(["import", "--db", str(demo_db), str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{demo_db}: is the demo cache; import into your own cache with --db PATH" in err[0]
    with Store(demo_db) as s:
        assert (s.table_counts(), s.get_meta("snapshot_time")) == before
        assert "track" not in {x.name for x in s.list_sources()}
    # so `costdeck demo` can still regenerate it
    assert main(["demo", "--db", str(demo_db), "--as-of", "2026-06-30"]) == 0


def _sources(capsys, db: Path) -> dict[str, str]:
    capsys.readouterr()
    assert main(["sources", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    return {line.split()[1]: line for line in out.splitlines() if line.startswith("│") and "(not in config)" in line}


def test_import_and_track_record_a_sync_run(db_path: Path, tmp_path: Path, capsys,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    log = write_lines(tmp_path / "runs.jsonl", GOOD[0], GOOD[1])
    assert main(["import", "--db", str(db_path), str(log)]) == 0
    assert main(["track", "--db", str(db_path), "--", sys.executable, "-c", "pass"]) == 0
    with Store(db_path) as s:
        runs = [tuple(r) for r in s.conn.execute(
            "SELECT s.name, r.status, r.rows, r.finished_at, r.detail FROM sync_runs r "
            "JOIN sources s ON s.id = r.source_id ORDER BY r.id")]
        assert s.get_meta("snapshot_time") == NOW
        (track_run_id,) = [r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs WHERE run_id LIKE 'track-%'")]
    (name, status, rows, finished, detail), (tname, tstatus, trows, tfinished, tdetail) = runs
    # r-1: run + 1 executor + 4 metric points + 2 params; r-2: run + 1 metric point
    assert (name, status, rows, finished) == ("runs:runs.jsonl", "ok", 10, NOW)
    assert json.loads(detail) == {"kind": "run log import", "files": ["runs.jsonl"], "runs": 2}
    assert (tname, tstatus, trows, tfinished) == ("track", "ok", 1, NOW)  # one sync run per tracked run
    assert json.loads(tdetail) == {"kind": "track", "run_id": track_run_id, "status": "completed"}
    shown = _sources(capsys, db_path)
    assert set(shown) == {"runs:runs.jsonl", "track"}
    for line in shown.values():
        assert NOW in line and "never" not in line and " ok " in line
