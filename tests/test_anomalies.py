"""Anomalies, forecast range, budgets, `costdeck check` and its webhook, view 6."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from analysis import anomalies as an
from analysis import budgets as bu
from analysis.forecast import backtest, month_end_forecast
from cache import Store
from cache import queries as q
from cache.money import NANOS
from tests.helpers import DEMO_AS_OF, DEMO_NOW, build_demo, demo_copy
from tui.cli import main
from tui.widgets import Table

START = date(2026, 1, 5)  # a Monday


def _series(n: int = 90, base: float = 1000.0, weekend: float = 0.4, noise: float = 0.03,
            seed: int = 1) -> tuple[list[date], list[float]]:
    rng = random.Random(seed)
    days = [START + timedelta(days=i) for i in range(n)]
    vals = [base * ((1 - weekend) if d.weekday() >= 5 else 1.0) * (1 + rng.gauss(0, noise)) for d in days]
    return days, vals


def _flagged(days: list[date], vals: list[float], **kw: Any) -> dict[date, int]:
    res = an.detect(vals, days, an.Params(**kw))
    return {d: f for d, f in zip(days, res.flags, strict=True) if f}


# -- detection on hand-made series ---------------------------------------------------------------

def test_weekday_rhythm_is_not_an_anomaly() -> None:
    days, vals = _series(weekend=0.6)
    assert _flagged(days, vals) == {}
    # weekends at 10 % of the weekdays: the incumbent rule takes ordinary weekdays for spikes
    days, vals = _series(weekend=0.9)
    assert _flagged(days, vals) == {}
    flagged = [d for d, f in zip(days, an.optscale_rule(vals), strict=True) if f]
    assert len(flagged) >= 10 and all(d.weekday() < 5 for d in flagged)


def test_spike_level_shift_and_drop_are_found() -> None:
    days, vals = _series()
    vals[60] *= 3.0  # a one-day spike
    for i in range(70, 90):
        vals[i] *= 1.5  # a level shift that lasts
    flags = _flagged(days, vals)
    assert flags.get(days[60]) == 1
    assert all(flags.get(days[i]) == 1 for i in range(70, 74))
    res = an.detect(vals, days)
    kinds = {(days[e.start], e.kind()) for e in an.episodes(vals, res)}
    assert (days[60], "spike") in kinds and (days[70], "level_shift") in kinds
    days, vals = _series(seed=2)
    for i in range(80, 90):
        vals[i] = 0.0  # an export that stopped
    eps = an.episodes(vals, an.detect(vals, days))
    assert [(days[e.start], e.kind()) for e in eps] == [(days[80], "drop")]
    assert round(eps[0].actual) == 0 and eps[0].impact < -5000


def test_job_like_scope_bursts_are_its_pattern_but_a_bigger_burst_and_a_shift_are_not() -> None:
    # a training-job service: $40 a day, a job of about $90 every 5 days (1 or 2 days)
    days = [START + timedelta(days=i) for i in range(100)]
    vals = [40.0] * 100
    for k, i in enumerate(range(30, 100, 5)):
        vals[i] += 80.0 + 10 * (k % 3)
        if k % 4 == 0:
            vals[i + 1] += 60.0
    flags = _flagged(days, vals)
    # the first jobs stand out; once the scope has had 3 of them, more of the same are its pattern
    assert flags and days[30] in flags and max(flags) < days[45]
    spiky = list(vals)
    spiky[82] = 40.0 + 400.0  # a job four times the largest: still a spike
    assert _flagged(days, spiky).get(days[82]) == 1
    shifted = list(vals)
    for i in range(85, 100):
        shifted[i] += 120.0  # something left running: longer than any job
    assert any(shifted_day >= days[85] for shifted_day in _flagged(days, shifted))


def test_a_new_scope_ramping_up_is_not_compared_with_the_days_before_it_existed() -> None:
    days, vals = _series(n=100, weekend=0.0, base=300.0)
    vals = [0.0] * 40 + [160.0 + v * 0 for v in vals[40:47]] + vals[47:]  # born on day 40, ramps up on day 47
    assert [d for d in _flagged(days, vals) if d >= days[60]] == []


def _account_store(path: Path, bump: float, no_service: bool = False) -> list[an.Found]:
    """One account, 50 services of ~$40 a day (10 % noise), 100 days; on day 90 every service is
    `bump` x its usual (each within its own noise and minimum impact, the account's sum well beyond)."""
    from cache import CostRow
    from cache.money import to_nanos

    rng = random.Random(5)
    rows = []
    for i in range(100):
        d = START + timedelta(days=i)
        for k in range(50):
            v = 40 * (1 + rng.gauss(0, 0.1)) * (bump if i == 90 else 1.0)
            svc = None if no_service and k < 25 else f"svc-{k}"
            rows.append(CostRow(day=d, provider_name="AWS", sub_account_id="111", sub_account_name="Prod",
                                service_name=svc, resource_id=f"r-{k}", billed_cost=to_nanos(f"{v:.2f}")))
    with Store(path) as store:
        store.replace_costs(store.ensure_source("s", "test"), rows)
        return an.find(store.conn, an.Params(lookback_days=20))[0]


def test_a_parent_none_of_whose_parts_moved_is_noise_adding_up(tmp_path: Path) -> None:
    found = _account_store(tmp_path / "a.db", 1.3)
    assert [f for f in found if f.start == START + timedelta(days=90)] == []
    # when half the spend has no service, the parts cannot tell: the account's move is reported
    found = _account_store(tmp_path / "b.db", 1.3, no_service=True)
    assert {f.dimension for f in found if f.start == START + timedelta(days=90)} & {"sub_account_id", "provider_name",
                                                                                   "total"}


def test_blip_under_the_minimum_impact_is_not_an_alert() -> None:
    days, vals = _series(base=2.0)  # a $2/day service
    vals[60] = 5.0  # +$3: 150 %, but $3
    assert _flagged(days, vals) == {}
    assert _flagged(days, vals, min_impact=1.0) == {days[60]: 1}


def test_month_start_charges_are_learned() -> None:
    days, vals = _series(n=130)
    for i, d in enumerate(days):
        if d.day == 1:
            vals[i] += 3000.0  # a monthly fee billed on the 1st
    flags = _flagged(days, vals)
    firsts = [d for d in days if d.day == 1]
    assert firsts[-1] not in flags and firsts[-2] not in flags  # learned after the first one
    assert sum(an.optscale_rule(vals)) >= len(firsts)  # the rule flags every one of them


# -- over the demo -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("anom") / "demo.db")


@pytest.fixture()
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)


def test_demo_anomalies_look_like_real_ones(demo_master: Path) -> None:
    with Store(demo_master, readonly=True) as store:
        found = an.load(store.conn)
        budgets = {b.budget.name: b for b in bu.evaluate_all(store.conn)}
    by_value = {(a.dim_value, a.kind): a for a in found}
    gpu = by_value[("AWS / acme-data-ml / Amazon Elastic Compute Cloud", "level_shift")]
    assert gpu.contributors[0]["label"] == "tmp-llm-finetune" and gpu.impact > 2000 * NANOS
    load_test = by_value[("AWS / acme-staging / AWS Data Transfer", "level_shift")]
    assert load_test.end == DEMO_AS_OF and load_test.impact > 0
    export = by_value[("Microsoft / acme-azure-prod / Azure Monitor", "drop")]
    assert export.actual == 0 and export.end == DEMO_AS_OF
    assert budgets["ML team"].status == "at_risk" and budgets["AWS prod account"].status == "over"
    # the demo's other injected ones (debug logging left on, a CDN misconfiguration) are found too
    assert ("AWS / acme-data-ml / AmazonCloudWatch", "spike") in by_value
    assert ("Microsoft / acme-azure-prod / Bandwidth", "spike") in by_value
    # SageMaker's training jobs are its pattern once it has had a few (only the first big job stands
    # out, not the ten after it); Azure's monthly reservation purchase is expected by the service it
    # belongs to, so neither the account nor the provider flag it on the 1st
    assert len([a for a in found if "SageMaker" in a.dim_value]) <= 1
    assert not [a for a in found if a.start.day == 1 and a.dimension in ("provider_name", "sub_account_id")]
    assert len(found) <= 8  # a screenful of what matters, not a wall


def test_status_survives_recompute(demo_db: Path) -> None:
    with Store(demo_db) as store:
        gpu = next(a for a in an.load(store.conn) if a.kind == "level_shift")
        with store.transaction():
            assert an.set_status(store.conn, [gpu.id], "acknowledged") == 1
        first_seen = gpu.first_seen
        result = an.recompute(store)
        assert result.inserted == 0 and result.removed == 0
        again = {a.id: a for a in an.load(store.conn)}
        assert again[gpu.id].status == "acknowledged" and again[gpu.id].first_seen == first_seen
        assert gpu.id not in {a.id for a in an.load(store.conn, ["open"])}


def test_budget_crossing_day_and_unknown_filter(demo_master: Path) -> None:
    prod = "381492750164"
    with Store(demo_master, readonly=True) as store:
        conn = store.conn
        pts = q.spend_series(conn, None, DEMO_AS_OF.replace(day=1), DEMO_AS_OF + timedelta(days=1),
                             filters={"sub_account_id": prod, "billing_currency": "USD"})[None]
        first10 = sum(v for d, v in pts.items() if d <= "2026-06-10")
        b = bu.evaluate(conn, bu.Budget("p", first10, "USD", "month", {"sub_account_id": prod}), DEMO_AS_OF)
        assert b.status == "over" and b.crossing == date(2026, 6, 10) and b.actual == sum(pts.values())
        b = bu.evaluate(conn, bu.Budget("p", first10 * 4, "USD", "month", {"sub_account_id": prod}), DEMO_AS_OF)
        assert b.status == "ok" and b.crossing is None
        # at risk mid-month: the forecast crosses before the month ends, on a day after as_of
        mid = date(2026, 6, 15)
        b = bu.evaluate(conn, bu.Budget("p", first10 * 2, "USD", "month", {"sub_account_id": prod}), mid)
        assert b.status == "at_risk" and b.crossing is not None and mid < b.crossing <= date(2026, 6, 30)
        assert b.forecast is not None and b.forecast.p10 <= b.forecast.month_end <= b.forecast.p90
        # a budget in another currency counts nothing of the USD spend
        eur = bu.evaluate(conn, bu.Budget("e", NANOS, "EUR", "month", {"sub_account_id": prod}), DEMO_AS_OF)
        assert eur.actual == 0 and eur.other_currencies["USD"] == sum(pts.values())
        # a list of values: any of them (the sub accounts' spend summed, each once)
        staging = "604817293552"
        both = bu.evaluate(conn, bu.Budget("b", NANOS, "USD", "month", {"sub_account_id": [prod, staging]}),
                           DEMO_AS_OF)
        alone = bu.evaluate(conn, bu.Budget("s", NANOS, "USD", "month", {"sub_account_id": staging}), DEMO_AS_OF)
        assert both.actual == sum(pts.values()) + alone.actual and alone.actual > 0
        task = bu.evaluate(conn, bu.Budget("t", NANOS, "USD", "month", {"task": "train"}), DEMO_AS_OF)
        assert task.status == "skipped" and "not a cost budget" in task.reason


def test_forecast_range_and_backtest() -> None:
    days, vals = _series(n=120, noise=0.05)
    daily = {d: int(v * NANOS) for d, v in zip(days, vals, strict=True)}
    f = month_end_forecast(daily, date(2026, 3, 10))
    assert f.p10 < f.month_end < f.p90
    points = backtest(daily)
    assert {p.day for p in points} == {7, 14, 21}
    assert all(abs(p.error) < 0.1 for p in points) and sum(p.held for p in points) >= len(points) * 0.6


# -- check and the webhook -----------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_next = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_next:
            _Hook.fail_next -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture()
def webhook() -> Iterator[str]:
    _Hook.received = []
    _Hook.fail_next = 0
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret"
    server.shutdown()
    server.server_close()


def test_check_exit_codes_and_once_only_webhook(demo_db: Path, tmp_path: Path, webhook: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[notify]\nwebhook = "{webhook}"\nmin_saving = 500\n')
    _Hook.fail_next = 1  # the first attempt fails: retried
    assert main(["check", "--db", str(demo_db), "--config", str(cfg)]) == 3
    out = capsys.readouterr().out
    assert "new since the last check" in out and "level shift in AWS / acme-data-ml" in out
    assert "budget ML team at risk" in out and "budget AWS prod account over" in out
    assert "  anomaly: level shift in" in out  # an anomaly line says what it is, once
    assert "budget: budget" not in out and "recommendation: recommendation" not in out
    assert len(_Hook.received) == 1
    text = _Hook.received[0]["text"]
    assert text.startswith("costdeck: ") and "*recommendation*" in text and "Azure Monitor" in text
    n_lines = len(text.splitlines()) - 1
    assert main(["check", "--db", str(demo_db), "--config", str(cfg)]) == 0
    assert "nothing new since the last check" in capsys.readouterr().out
    assert len(_Hook.received) == 1  # notified once
    # a new finding: only it is posted
    with Store(demo_db) as store, store.transaction() as conn:
        conn.execute("DELETE FROM check_findings WHERE kind='budget' AND key LIKE 'ML team:%'")
    assert main(["check", "--db", str(demo_db), "--config", str(cfg), "--format", "json"]) == 3
    new = json.loads(capsys.readouterr().out)["new"]
    assert [f["kind"] for f in new] == ["budget"]
    assert len(_Hook.received) == 2 and len(_Hook.received[1]["text"].splitlines()) == 2 < n_lines


def test_check_webhook_down_retries_next_time(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from providers import notify

    waits: list[float] = []
    monkeypatch.setattr(notify, "_sleep", waits.append)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[notify]\nwebhook = "http://127.0.0.1:9/hook/secret-token"\n')
    assert main(["check", "--db", str(demo_db), "--config", str(cfg)]) == 3
    err = capsys.readouterr().err
    assert "the webhook was not told" in err and "secret-token" not in err
    assert waits == [0.5, 1.0, 2.0, 4.0]  # backed off between the 4 attempts
    assert main(["check", "--db", str(demo_db), "--config", str(cfg)]) == 1  # nothing new, the post failed again
    assert "nothing new" in capsys.readouterr().out
    with Store(demo_db, readonly=True) as store:
        assert store.conn.execute("SELECT count(*) FROM check_findings WHERE notified_at IS NULL").fetchone()[0] > 0


def test_cache_from_before_the_detection_gets_it_at_check(demo_db: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with Store(demo_db) as store, store.transaction() as conn:
        conn.execute("DELETE FROM anomalies")
        conn.execute("DELETE FROM meta WHERE key=?", (an.LAST_RUN_KEY,))
    assert main(["check", "--db", str(demo_db), "--config", str(tmp_path / "none.toml")]) == 2  # no such config
    capsys.readouterr()
    assert main(["check", "--db", str(demo_db)]) == 3
    assert "level shift in AWS / acme-data-ml" in capsys.readouterr().out


def test_reports(demo_master: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "anomalies", "--db", str(demo_master), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"filters", "contributors", "impact", "kind", "status"} <= set(rows[0])
    top = rows[0]["contributors"][0]  # in currency units like impact, not nanos
    assert "delta_nanos" not in top and 0 < abs(top["delta"]) <= abs(rows[0]["impact"]) * 2, top
    assert main(["report", "budgets", "--db", str(demo_master), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("budget,status") and "ML team,at_risk" in out
    assert main(["report", "forecast", "--db", str(demo_master), "--format", "json"]) == 0
    fc = json.loads(capsys.readouterr().out)
    assert [r["period"] for r in fc] == ["this month", "next month"]
    assert float(fc[1]["p10"]) < float(fc[1]["forecast"]) < float(fc[1]["p90"])


def _statuses(db: Path) -> dict[int, tuple[str, str | None]]:
    with Store(db, readonly=True) as store:
        return {a.id: (a.status, a.status_reason) for a in an.load(store.conn)}


def test_status_commands_for_cron(demo_db: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    db = ["--db", str(demo_db)]
    before = _statuses(demo_db)
    gpu, load_test = sorted(before)[:2]
    assert main(["anomalies", "dismiss", str(gpu), *db]) == 2  # a dismissal says why
    assert main(["anomalies", "ack", str(gpu), "9999", *db]) == 2  # unknown id: nothing changes
    assert "no anomaly with id 9999" in capsys.readouterr().err and _statuses(demo_db) == before
    # local bookkeeping: read-only mode (never change a cloud resource) allows it, as in the app
    assert main(["anomalies", "dismiss", str(load_test), "--reason", "planned release test", "--read-only", *db]) == 0
    assert main(["anomalies", "ack", str(gpu), *db]) == 0
    assert main(["anomalies", "ack", str(gpu), *db]) == 0
    out = capsys.readouterr().out
    assert "dismissed: planned release test" in out and "already acknowledged" in out
    after = _statuses(demo_db)
    assert after[load_test] == ("dismissed", "planned release test") and after[gpu] == ("acknowledged", None)
    assert main(["report", "anomalies", "--status", "dismissed", "--format", "csv", *db]) == 0
    assert "planned release test" in capsys.readouterr().out
    assert main(["anomalies", "reopen", str(load_test), *db]) == 0
    assert _statuses(demo_db)[load_test] == ("open", None)
    # another process holds the write lock past COSTDECK_LOCK_TIMEOUT: one line, exit 1, nothing changed
    monkeypatch.setenv("COSTDECK_LOCK_TIMEOUT", "0.3")
    other = sqlite3.connect(demo_db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        capsys.readouterr()
        assert main(["anomalies", "ack", str(load_test), *db]) == 1
        assert "lock" in capsys.readouterr().err
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _statuses(demo_db)[load_test] == ("open", None)


# -- view 6 --------------------------------------------------------------------------------------

async def _settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_view6_keys(demo_db: Path) -> None:
    from tui.app import CostdeckApp
    from tui.screens.anomalies import AnomaliesScreen

    app = CostdeckApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await pilot.press("6")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, AnomaliesScreen) and screen.rows
        first = screen.rows[0]
        assert "tmp-llm-finetune" in str(screen.query_one("#anomaly-detail").render())
        await pilot.press("a")
        await _settle(pilot)
        with Store(demo_db, readonly=True) as store:
            status = store.conn.execute("SELECT status FROM anomalies WHERE id=?", (first.id,)).fetchone()[0]
        assert status == "acknowledged" and first.id not in {a.id for a in screen.rows}
        await pilot.press("1")  # the Overview counts one open anomaly less
        await _settle(pilot)
        line = str(app.screen.query_one("#alerts-line").render())
        assert f"{len(screen.rows)} open anomalies" in line and "worst budget: AWS prod account" in line
        await pilot.press("6")
        await _settle(pilot)
        await pilot.press("enter")
        await _settle(pilot)
        spend = app.screen
        opened = screen.rows[0]
        assert spend.filters() == opened.scope  # type: ignore[attr-defined]
        assert spend.current_range() == (opened.start, opened.end + timedelta(days=1))  # type: ignore[attr-defined]
        # the breadcrumbs name the account as the Spend view does elsewhere, not by its id
        crumbs = str(spend.query_one("#crumbs").render())
        account = opened.scope["sub_account_id"]
        assert opened.dim_value.split(" / ")[1] in crumbs and account not in crumbs
        assert crumbs.index("Provider") < crumbs.index("Sub account") < crumbs.index("Service")


async def test_view6_dismiss_asks_why_and_works_in_read_only_mode(demo_db: Path) -> None:
    """Read-only means never changing a cloud resource (README): statuses are local bookkeeping, allowed
    there as dismissing a recommendation is; the reason is kept, shown in the detail and the report."""
    from tui.app import CostdeckApp
    from tui.dialogs import PromptScreen
    from tui.screens.anomalies import AnomaliesScreen

    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        await pilot.press("6")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, AnomaliesScreen)
        first = screen.rows[0]
        await pilot.press("d")
        await _settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")  # no reason: asked again
        await _settle(pilot)
        assert isinstance(app.screen, PromptScreen) and "give a reason" in str(app.screen.query_one("#error").render())
        await pilot.press(*"planned GPU run", "enter")
        await _settle(pilot)
        assert app.screen is screen and first.id not in {a.id for a in screen.rows}
        await pilot.press("s")  # all: the dismissed one, its reason in the detail
        await _settle(pilot)
        row = [a.id for a in screen.rows].index(first.id)
        screen.query_one("#anomaly-table", Table).move_cursor(row=row)
        await _settle(pilot)
        detail = str(screen.query_one("#anomaly-detail").render())
        assert "dismissed: planned GPU run" in detail
        await pilot.press("o")
        await _settle(pilot)
    assert _statuses(demo_db)[first.id] == ("open", None)
    assert not any("read-only" in str(n.message) for n in app._notifications)


def test_view6_snapshot(snap_compare, demo_master: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from tui.app import CostdeckApp

    monkeypatch.setenv("COSTDECK_NOW", DEMO_NOW)

    async def go(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("6")
        await _settle(pilot)

    assert snap_compare(CostdeckApp(demo_master, read_only=True), terminal_size=(80, 24), run_before=go)


def test_tag_scopes_and_config(demo_master: Path) -> None:
    from providers.config import parse_config

    config = parse_config({"anomalies": {"tags": ["team"], "min_impact": 40}, "notify": {"min_saving": "12.5"}})
    assert an.params_of(config).tags == ("team",) and config.notify.min_saving_nanos == 12_500_000_000
    with Store(demo_master, readonly=True) as store:
        found, n_series = an.find(store.conn, an.params_of(config))
    assert n_series == 125 + 5  # the five team values get a series of their own
    team = [f for f in found if f.dimension == "tag:team"]
    gpu = next(f for f in team if f.kind == "level_shift")
    assert gpu.scope == {"tag:team": "ml"} and gpu.dim_value == "team=ml"
    assert gpu.contributors[0]["label"] == "tmp-llm-finetune"
    with pytest.raises(Exception, match="notify.webhook"):
        parse_config({"notify": {"webhook": "ftp://example.com/x"}})


async def test_view6_sorted_table_acts_on_the_row_under_the_cursor(demo_db: Path) -> None:
    """S sorts the shared table (view 6's own s shows open/all, it is not a sort); the detail and the
    keys act on the row shown under the cursor."""
    from tui.app import CostdeckApp
    from tui.screens.anomalies import AnomaliesScreen
    from tui.widgets import Table

    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await _settle(pilot)
        await pilot.press("6")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, AnomaliesScreen) and len(screen.rows) > 2
        table = screen.query_one("#anomaly-table", Table)
        table.focus()
        await pilot.pause()
        await pilot.press("S")
        await pilot.press("g")  # by Days, newest first: the top row is not the view's first
        await _settle(pilot)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert key != str(screen.rows[0].id)
        current = screen._current()
        assert current is not None and str(current.id) == key
        assert current.scope_title in str(screen.query_one("#anomaly-detail").render())


def test_an_anomaly_s_actual_is_what_spend_shows_for_its_scope_and_days(demo_master: Path) -> None:
    """Expected and actual cover every day of the episode (bridged in-band days too), so the actual
    equals Spend's total for the scope and days `enter` opens."""
    with Store(demo_master, readonly=True) as store:
        found = an.load(store.conn)
        assert any(a.days > 2 for a in found)
        for a in found:
            shown = q.total(store.conn, a.start, a.end + timedelta(days=1), "billed", dict(a.scope))
            assert shown.get(a.currency, 0) == a.actual, (a.dim_value, a.start, a.end)
