"""The cache (permissions, versions, atomic windows, exact money) and `costdeck report` / `sources`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cache import CacheError, CacheVersionError, CostRow, Store
from cache import queries as q
from cache.money import MoneyError, cents, decimal_str, fmt, to_nanos
from cache.schema import SCHEMA_VERSION
from tests import dataset
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def known_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_NOW", dataset.NOW)
    return dataset.build(tmp_path / "known.db")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:  # type: ignore[type-arg]
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cache_file_and_dir_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "c.db"
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_newer_schema_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.db"
    with Store(path) as s:
        s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(CacheVersionError, match="newer costdeck"):
        Store(path)
    assert main(["report", "spend", "--by", "provider_name", "--db", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by a newer costdeck" in err[0]


def test_not_a_cache_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CacheError, match="not a costdeck cache"):
        Store(junk)


def test_window_replace_is_atomic_and_summary_is_exact(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as s:
        sid = s.ensure_source("a", "test")
        rows = [CostRow(day=date(2024, 9, d), provider_name="AWS", service_name="S", billed_cost=to_nanos("0.0000008"))
                for d in range(1, 11)]
        s.replace_costs(sid, rows)
        before = q.total(s.conn, date(2024, 9, 1), date(2024, 10, 1))

        def bad_rows():  # type: ignore[no-untyped-def]
            yield CostRow(day=date(2024, 9, 5), provider_name="AWS", billed_cost=to_nanos("1"))
            raise RuntimeError("crash mid-write")

        with pytest.raises(RuntimeError):
            s.replace_costs(sid, bad_rows(), window=(date(2024, 9, 5), date(2024, 9, 7)))
        assert q.total(s.conn, date(2024, 9, 1), date(2024, 10, 1)) == before
        # A row outside the window is refused and nothing changes.
        with pytest.raises(CacheError, match="outside the window"):
            s.replace_costs(sid, [CostRow(day=date(2024, 9, 9), provider_name="AWS")],
                            window=(date(2024, 9, 5), date(2024, 9, 7)))
        assert q.total(s.conn, date(2024, 9, 1), date(2024, 10, 1)) == before
        # Replacing a window keeps the days outside it.
        s.replace_costs(sid, [CostRow(day=date(2024, 9, 5), provider_name="AWS", billed_cost=to_nanos("2.5"))],
                        window=(date(2024, 9, 5), date(2024, 9, 7)))
        assert q.total(s.conn, date(2024, 9, 1), date(2024, 10, 1)) == {"USD": 8 * 800 + 2_500_000_000}
        summary = s.conn.execute("SELECT sum(billed) FROM cost_summary").fetchone()[0]
        facts = s.conn.execute("SELECT sum(billed) FROM costs").fetchone()[0]
        assert summary == facts == 8 * 800 + 2_500_000_000
        assert s.integrity_ok()


def test_money_is_exact() -> None:
    assert to_nanos("0.00000080000") == 800
    assert to_nanos("0.0000000005") == 0  # half-even
    assert to_nanos("0.0000000015") == 2
    assert to_nanos("-12.345678901") == -12_345_678_901
    assert decimal_str(1_500_000_000) == "1.50" and decimal_str(5_000_090) == "0.00500009"
    assert decimal_str(-3) == "-0.000000003"
    with pytest.raises(MoneyError):
        to_nanos(0.1)
    with pytest.raises(MoneyError):
        to_nanos("abc")
    assert str(cents(1_234_565_000_000)) == "1234.56"
    assert fmt(1_234_567_891_000) == "$1,234.57"
    assert fmt(-5_000_000_000, "EUR") == "-€5.00"
    assert fmt(12_345_000_000_000, compact=True) == "$12.3k"
    assert fmt(5_000_000_000, "CHF") == "5.00 CHF"


def test_report_spend_json_csv_table(known_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(known_db)]
    data = run_json(capsys, "report", "spend", "--by", "service_name", "--since", "2026-10-28",
                    "--until", "2026-11-27", *db)
    assert data == [
        {"service_name": "Amazon EC2", "cost": 502.0, "currency": "USD"},
        {"service_name": "Virtual Machines", "cost": 90.0, "currency": "USD"},
        {"service_name": "Amazon S3", "cost": 60.0, "currency": "USD"},
    ]
    # --until is exclusive, --since inclusive: one day.
    one = run_json(capsys, "report", "spend", "--by", "provider_name", "--since", "2026-11-01",
                   "--until", "2026-11-02", *db)
    assert one == [{"provider_name": "AWS", "cost": 19.0, "currency": "USD"},
                   {"provider_name": "Microsoft", "cost": 3.0, "currency": "USD"}]
    # Default range: all data. Names come along where the source has them.
    accts = run_json(capsys, "report", "spend", "--by", "sub_account_id", *db)
    assert accts[0] == {"sub_account_id": "111", "name": "Prod", "cost": 1357.0, "currency": "USD"}
    tags = run_json(capsys, "report", "spend", "--by", "tag:team", "--metric", "list", *db)
    assert {t["tag:team"]: t["cost"] for t in tags}["web"] == 2 * (61 * 10 + 26 * 12)
    assert main(["report", "spend", "--by", "service_name", "--format", "csv", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "service_name,cost,currency"
    assert lines[1] == "Amazon EC2,1357.00,USD"
    assert main(["report", "spend", "--by", "resource_id", *db]) == 0
    out = capsys.readouterr().out
    assert "[bold red]evil[/]" in out  # rendered literally, not as markup


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["report", "spend", "--by", "colour"], "unknown dimension 'colour'"),
        (["report", "spend", "--by", "tag:"], "tag dimension needs a key"),
        (["report", "spend"], "the following arguments are required: --by"),
        (["report", "spend", "--by", "service_name", "--since", "2026-13-01"], "not a date"),
        (["report", "spend", "--by", "service_name", "--since", "2026-11-02", "--until", "2026-11-01"],
         "must be after"),
        (["report", "spend", "--by", "service_name", "--format", "xml"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    known_db: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert main([*args, "--db", str(known_db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert needle in err[0]


def test_report_without_cache_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "spend", "--by", "service_name", "--db", str(tmp_path / "none.db")]) == 2
    assert "no cache here" in capsys.readouterr().err


def test_sources_lists_last_sync(known_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "--db", str(known_db)]) == 0
    out = capsys.readouterr().out
    assert "known" in out and "focus" in out and "348" in out  # 87 days x 4 rows


def test_cosdeck_db_env_is_the_default(known_db: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COSTDECK_DB", str(known_db))
    data = run_json(capsys, "report", "spend", "--by", "provider_name")
    assert [d["provider_name"] for d in data] == ["AWS", "Microsoft"]


def test_console_script_runs_in_a_subprocess(known_db: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "report", "spend", "--by", "provider_name", "--format", "json",
         "--db", str(known_db)],
        capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["provider_name"] == "AWS"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("cache", ("providers", "analysis", "tui", "textual")),
        ("providers", ("analysis", "tui", "textual")),
        ("analysis", ("tui", "textual")),
    ],
)
def test_layers_stay_clean(package: str, forbidden: tuple[str, ...]) -> None:
    """Import every module of a layer in a fresh interpreter and check what got loaded."""
    code = f"""
import importlib, pkgutil, sys
import {package}
for m in pkgutil.walk_packages({package}.__path__, '{package}.'):
    importlib.import_module(m.name)
bad = sorted(n for n in sys.modules if n.split('.')[0] in {forbidden!r})
print(','.join(bad))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{package} pulled in {proc.stdout.strip()}"


def test_import_linter_contracts_hold() -> None:
    """The pyproject import-linter contracts (the same layering, checked statically)."""
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_empty_cache_opens_the_demo_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.cli import build_parser, prepare_open

    monkeypatch.setenv("COSTDECK_NOW", "2026-06-30T09:00:00+00:00")
    real = tmp_path / "data" / "cache.db"
    path, config = prepare_open(build_parser().parse_args(["--db", str(real)]))
    assert path == real.with_name("demo.db") and not config.sources
    with Store(path) as s:
        assert s.is_demo() and s.get_meta("demo_as_of") == "2026-06-30"
    with Store(real) as s:
        assert s.is_empty()  # the real cache never receives demo data
    # Once the real cache has data, it opens on it.
    with Store(real) as s:
        s.ensure_source("file:x.csv", "focus")
    path, _ = prepare_open(build_parser().parse_args(["--db", str(real)]))
    assert path == real
    # A configured source also means the real cache (even while still empty).
    other = tmp_path / "other" / "cache.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sources.prod]\nkind = "aws"\n', encoding="utf-8")
    path, config = prepare_open(build_parser().parse_args(["--db", str(other), "--config", str(cfg)]))
    assert path == other and list(config.sources) == ["prod"]


def test_bad_config_exits_2_before_opening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sources.prod]\nkind = "nope"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "c.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "c.toml" in err[0] and "sources.prod.kind" in err[0]


def test_global_options_before_or_after_the_subcommand(known_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = run_json(capsys, "--db", str(known_db), "report", "spend", "--by", "provider_name")
    after = run_json(capsys, "report", "spend", "--by", "provider_name", "--db", str(known_db))
    assert before == after and before[0]["provider_name"] == "AWS"


def test_report_on_a_cache_without_costs_and_bad_ranges(tmp_path: Path, known_db: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.db"
    Store(empty).close()
    assert main(["report", "spend", "--by", "provider_name", "--format", "json", "--db", str(empty)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["report", "spend", "--by", "provider_name", "--format", "csv", "--db", str(empty)]) == 0
    assert capsys.readouterr().out == "provider_name,cost,currency\n"
    assert main(["report", "spend", "--by", "provider_name", "--db", str(empty)]) == 0
    assert "no cost data" in capsys.readouterr().out
    # --since alone after the data: the message names what the user gave.
    assert main(["report", "spend", "--by", "provider_name", "--since", "2027-01-01", "--db", str(known_db)]) == 2
    err = capsys.readouterr().err
    assert "--since 2027-01-01 is after the last day with data (2026-11-26)" in err and "--until" not in err


def test_broken_pipe_is_quiet(known_db: Path) -> None:
    proc = subprocess.run(
        f"'{sys.executable}' -m tui.cli report spend --by resource_id --format csv --db '{known_db}' | head -c 10",
        shell=True, capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "COSTDECK_NOW": dataset.NOW},
    )
    assert proc.stderr == "" and len(proc.stdout) == 10


def test_failed_import_into_a_new_cache_leaves_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,focus,file\n1,2,3,4\n", encoding="utf-8")
    db = tmp_path / "new" / "cache.db"
    assert main(["import", str(bad), "--db", str(db)]) == 2
    assert not db.exists() and not Path(f"{db}-wal").exists()


def test_read_only_refuses_cleanup_scripts(known_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "recommendations", "--script", "aws", "--read-only", "--db", str(known_db)]) == 2
    assert "read-only" in capsys.readouterr().err
    cfg = tmp_path / "ro.toml"
    cfg.write_text("read_only = true\n", encoding="utf-8")
    assert main(["report", "recommendations", "--script", "aws", "--config", str(cfg), "--db", str(known_db)]) == 2


@pytest.mark.parametrize("cmd", [["sources"], ["report", "rules"], ["sync"], ["demo"], ["import", "x.csv"]])
def test_bad_rule_thresholds_exit_2_everywhere(cmd: list[str], known_db: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[rules.idle_instance]\nmax_cpu_avg = "x"\n', encoding="utf-8")
    assert main([*cmd, "--config", str(cfg), "--db", str(known_db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rules.idle_instance.max_cpu_avg" in err[0]


def test_report_rules_writes_values_as_the_config_file_does(known_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(known_db), "report", "rules", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "snapshot_volumes = false" in out and "False" not in out and "True" not in out
