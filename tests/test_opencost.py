"""The OpenCost kind against a loopback fake that computes allocation and assets from a seeded
cluster (tests/fake_opencost.py), driven through `costdeck sync` and `costdeck report`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.overview import build_overview
from cache import Store
from cache import queries as q
from providers.opencost.adapter import OpenCostAdapter
from tests.conftest import FOCUS_SAMPLE
from tests.fake_opencost import FakeOpenCost, seeded_cluster
from tui.cli import main

NOW = "2026-07-01T12:00:00+00:00"
TODAY = date(2026, 7, 1)
FIRST = date(2026, 6, 1)  # backfill_months = 2: June and July


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenCost]:
    with FakeOpenCost(seeded_cluster(date(2026, 5, 25), 38)) as f:
        yield f


@pytest.fixture(autouse=True)
def _pinned(monkeypatch: pytest.MonkeyPatch, fake: FakeOpenCost) -> Iterator[list[float]]:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    waits: list[float] = []
    monkeypatch.setattr(OpenCostAdapter, "sleep", staticmethod(waits.append))
    fake.faults.clear()
    fake.requests.clear()
    yield waits
    fake.faults.clear()


def write_config(tmp_path: Path, url: str, **extra: Any) -> Path:
    lines = ["[sources.k8s-prod]", 'kind = "opencost"', f'url = "{url}"', 'cluster = "prod-eu"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    p = tmp_path / "config.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def report(capsys: pytest.CaptureFixture[str], db: Path, by: str) -> dict[str, float]:
    capsys.readouterr()
    assert main(["report", "spend", "--by", by, "--format", "json", "--db", str(db)]) == 0
    return {r[by]: r["cost"] for r in json.loads(capsys.readouterr().out)}


def fake_totals(fake: FakeOpenCost, aggregate: str, start: date, end: date, by_node: bool = False) -> dict[str, float]:
    """What OpenCost itself answers for the whole window, accumulated (a separate query of the fake)."""
    data = fake.cluster.allocation(start, end, aggregate.split(","), True, True, by_node)
    return {k: v["totalCost"] for k, v in data[0].items()}


def allocation_rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT * FROM k8s_allocations ORDER BY day, node, namespace, pod").fetchall()


def test_first_sync_then_reports_reconcile_to_the_cent(fake: FakeOpenCost, tmp_path: Path, db_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, fake.url)
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    alloc = [r for r in fake.requests if r[0] == "/allocation/compute"]
    assert len(alloc) == (TODAY - FIRST).days + 1  # one day per request, June 1 to July 1
    qs = alloc[0][1]
    assert qs["window"] == "2026-06-01T00:00:00Z,2026-06-02T00:00:00Z"
    assert (qs["step"], qs["includeIdle"], qs["idleByNode"], qs["accumulate"]) == ("1d", "true", "true", "false")
    assert qs["aggregate"] == "cluster,node,namespace,controllerKind,controller,pod"
    assert [r[0] for r in fake.requests].count("/assets") == 1

    end = TODAY + timedelta(days=1)
    ours = report(capsys, db_path, "namespace")
    theirs = fake_totals(fake, "namespace", FIRST, end)
    assert set(ours) == set(theirs) == {"shop", "ml", "sandbox", "kube-system", "monitoring", "__idle__"}
    for k, v in theirs.items():
        assert abs(ours[k] - v) < 0.005, (k, ours[k], v)
    assert ours["__idle__"] > 0  # idle capacity included

    ours = report(capsys, db_path, "controller")
    theirs = fake_totals(fake, "namespace,controllerKind,controller", FIRST, end)
    assert set(ours) == {_controller_key(k) for k in theirs}
    for k, v in theirs.items():
        assert abs(ours[_controller_key(k)] - v) < 0.005, k

    for by, agg in (("node", "node"), ("cluster", "cluster")):
        ours = report(capsys, db_path, by)
        theirs = fake_totals(fake, agg, FIRST, end, by_node=by == "node")
        if by == "node":  # idle by node: the node's idle joins its node
            merged: dict[str, float] = {}
            for k, v in theirs.items():
                merged[k.removesuffix("/__idle__")] = merged.get(k.removesuffix("/__idle__"), 0.0) + v
            theirs = merged
        else:
            theirs = {"prod-eu": sum(theirs.values())}
        assert set(ours) == set(theirs)
        for k, v in theirs.items():
            assert abs(ours[k] - v) < 0.005, (by, k)
    pods = report(capsys, db_path, "pod")
    assert abs(pods["shop/redis-0"] - fake_totals(fake, "pod", FIRST, end)["redis-0"]) < 0.005
    teams = report(capsys, db_path, "label:team")  # labels are tag keys
    assert abs(teams["shop"] - fake_totals(fake, "namespace", FIRST, end)["shop"]) < 0.005

    with Store(db_path) as s:
        res = s.conn.execute("SELECT resource_type, resource_name, instance_type, state, attached_to, "
                             "json_extract(properties, '$.provider_id') FROM resources "
                             "WHERE provider_name='Kubernetes' ORDER BY 1, 2").fetchall()
        res = [tuple(r) for r in res]
        # allocation never reaches the cloud cost tables
        assert s.conn.execute("SELECT count(*) FROM costs").fetchone()[0] == 0
    assert ("kubernetes_node", "ip-10-0-2-20.ec2.internal", "g5.xlarge", "running", None,
            "aws:///us-east-1a/i-0a1b2c3d4e5f60003") in res
    assert ("volume", "pvc-old-elastic", None, "released", None, None) in res
    assert ("volume", "pvc-redis-data", None, "bound", "shop/redis-data", None) in res
    assert sum(1 for r in res if r[0] == "load_balancer") == 1

    # incremental: refetch_days (3) before the last synced day, to today
    fake.requests.clear()
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    days = [r[1]["window"][:10] for r in fake.requests if r[0] == "/allocation/compute"]
    assert days == ["2026-06-28", "2026-06-29", "2026-06-30", "2026-07-01"]
    assert report(capsys, db_path, "namespace")["shop"] == pytest.approx(
        fake_totals(fake, "namespace", FIRST, end)["shop"], abs=0.005)


def _controller_key(fake_key: str) -> str:
    if fake_key == "__idle__":
        return fake_key
    ns, kind, name = fake_key.split("/")
    return f"{ns}/{kind}:{name}"


def test_overview_total_unchanged_by_a_cluster(fake: FakeOpenCost, tmp_path: Path, db_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(FOCUS_SAMPLE), "--db", str(db_path)]) == 0
    with Store(db_path) as s:
        before = build_overview(s.conn)
        rng = q.data_range(s.conn)
        assert rng
        total_before = q.total(s.conn, rng[0], rng[1] + timedelta(days=1), "billed")
    prov_before = report(capsys, db_path, "provider_name")
    assert main(["sync", "--config", str(write_config(tmp_path, fake.url)), "--db", str(db_path)]) == 0
    assert allocation_rows(db_path)
    with Store(db_path) as s:
        after = build_overview(s.conn)
        assert q.total(s.conn, rng[0], rng[1] + timedelta(days=1), "billed") == total_before
    assert before.has_data and before.mtd + before.last_month_total > 0
    assert (after.mtd, after.last_month_total, after.chart_series) == (before.mtd, before.last_month_total,
                                                                       before.chart_series)
    assert report(capsys, db_path, "provider_name") == prov_before


def test_faults_one_line_nothing_lost(fake: FakeOpenCost, tmp_path: Path, db_path: Path, _pinned: list[float],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, fake.url, backfill_months=1, steps=["allocation"])
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    good = allocation_rows(db_path)
    assert good
    # a 5xx twice then an answer: retried with backoff (recorded, not slept), same data
    fake.faults["status"] = [503, 500]
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    assert len(_pinned) == 2 and allocation_rows(db_path) == good
    # 5xx that never ends: the step fails with one line, the cache is as it was
    capsys.readouterr()
    fake.faults["status"] = [500] * 20
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 1
    out = capsys.readouterr()
    line = [ln for ln in (out.out + out.err).splitlines() if "500" in ln and "allocation" in ln]
    assert line and "Traceback" not in out.err
    assert allocation_rows(db_path) == good
    fake.faults.clear()
    # a malformed entry: one line naming it, nothing written
    fake.faults["malformed"] = "2026-07-01"
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 1
    out = capsys.readouterr()
    assert "cpuCost is str '12.5 dollars', expected a number" in out.out + out.err
    assert allocation_rows(db_path) == good
    fake.faults.clear()
    # an empty window (Prometheus no longer holds those days): the cached days stay
    fake.faults["empty_days"] = ["2026-07-01"]
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    assert allocation_rows(db_path) == good
    fake.faults.clear()
    # a timeout: one line
    fake.faults["delay_s"] = 1.5
    cfg2 = write_config(tmp_path, fake.url, backfill_months=1, timeout_s=1, max_attempts=1,
                        steps=["allocation"])
    assert main(["sync", "--config", str(cfg2), "--db", str(db_path)]) == 1
    out = capsys.readouterr()
    assert "timed out after 1 attempts" in out.out + out.err
    assert allocation_rows(db_path) == good


def test_token_env_sent_as_bearer_and_missing_token_is_one_line(tmp_path: Path, db_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenCost(seeded_cluster(date(2026, 6, 25), 7), token="s3cret-token") as f:
        cfg = write_config(tmp_path, f.url, token_env="OPENCOST_TOKEN", backfill_months=1)
        assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 1
        out = capsys.readouterr()
        assert "OPENCOST_TOKEN (token_env) is not set" in out.out + out.err
        monkeypatch.setenv("OPENCOST_TOKEN", "wrong")
        assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 1
        out = capsys.readouterr()
        assert "401 Unauthorized" in out.out + out.err and "wrong" not in out.out + out.err
        monkeypatch.setenv("OPENCOST_TOKEN", "s3cret-token")
        assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
        assert allocation_rows(db_path)


def test_config_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "http://user:pw@127.0.0.1:9003")
    assert main(["sources", "--config", str(cfg)]) == 2
    assert "user:password@" in capsys.readouterr().err
    cfg = write_config(tmp_path, "http://127.0.0.1:9003", node_source="aws-prod", token_env="OPENCOST_TOKEN")
    assert main(["sources", "--config", str(cfg)]) == 0


def test_rules_and_kubectl_script(fake: FakeOpenCost, tmp_path: Path, db_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, fake.url)
    with cfg.open("a") as f:
        f.write('\n[protection]\ntags = ["costdeck-protect"]\n\n[rules.unattached_volume]\nmin_days = 0\n'
                '\n[rules.k8s_idle_capacity]\nmax_idle_share = 0.2\n')
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    capsys.readouterr()
    assert main(["report", "recommendations", "--format", "json", "--db", str(db_path), "--config", str(cfg)]) == 0
    recs = {(r["rule"], r["resource_id"]): r for r in json.loads(capsys.readouterr().out)
            if r["provider_name"] == "Kubernetes"}
    over = recs[("k8s_overrequested", "prod-eu/shop/deployment/checkout-api")]
    d = over["detail"]
    assert d["cpu_request_per_pod"] == 2.0 and d["cpu_usage_ratio"] < 0.3
    # recommended: peak daily usage x 1.3 per pod, rounded up to 50m; saving from OpenCost's own unit price
    assert 0.3 <= d["cpu_recommended_per_pod"] <= 0.6
    assert d["cpu_price_per_core_hour"] == pytest.approx(0.031611, rel=1e-3)
    assert over["monthly_saving"] > 0
    # every controller of the sandbox namespace is idle: one advice for the namespace (kept-demo is protected)
    ab = recs[("k8s_abandoned", "prod-eu/sandbox")]
    assert {c["name"] for c in ab["detail"]["controllers"]} == {"old-demo", "kept-demo"}
    assert ("k8s_abandoned", "prod-eu/ml/deployment/notebook") in recs
    assert ("k8s_overrequested", "prod-eu/ml/deployment/notebook") not in recs  # one advice per workload
    idle = recs[("k8s_idle_capacity", "prod-eu")]["detail"]
    assert idle["idle_share"] > 0.2 and set(idle["idle_nodes_by_type"]) == {"m5.2xlarge", "g5.xlarge"}
    assert ("unattached_volume", "prod-eu/volume/pvc-old-elastic") in recs

    assert main(["report", "recommendations", "--script", "opencost", "--dry-run", "--db", str(db_path),
                 "--config", str(cfg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("kubectl --namespace shop set resources deployment/checkout-api --requests=cpu=")
               for ln in lines)
    assert "kubectl --namespace ml scale deployment/notebook --replicas=0" in lines
    assert "kubectl delete persistentvolume pvc-old-elastic" in lines
    assert not any("sandbox" in ln for ln in lines)  # a protected workload (label) stops its namespace's step
    assert main(["report", "recommendations", "--script", "opencost", "--db", str(db_path),
                 "--config", str(cfg)]) == 0
    script = capsys.readouterr().out
    assert "have=$(kubectl config current-context)" in script and "protected" in script
    assert "kubectl config use-context" in script and "AWS_PROFILE" not in script


def test_kubectl_script_refuses_hostile_names() -> None:
    from providers.actions import PlanStep
    from providers.opencost.script import KUBECTL

    step = PlanStep(action="set_requests", provider_name="Kubernetes", resource_id="c/ns/deployment/x",
                    params={"namespace": "shop", "controller_kind": "deployment", "controller": "--all; rm -rf /",
                            "cpu_recommended_per_pod": 0.5})
    assert KUBECTL.commands(step)[0][0] == "false"
    step = PlanStep(action="delete_pv", provider_name="Kubernetes", resource_id="c/volume/x",
                    resource_name="$(reboot)")
    assert KUBECTL.commands(step)[0][0] == "false"
    step = PlanStep(action="scale_to_zero", provider_name="Kubernetes", resource_id="c/ns/daemonset/x",
                    params={"namespace": "ns", "controllers": [{"kind": "daemonset", "name": "x"}]})
    assert KUBECTL.commands(step)[0][0] == "false"


def test_chunked_requests_give_the_same_allocation(fake: FakeOpenCost, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """chunk_days = 7: one request per week of daily sets (step=1d), the same rows as day by day."""
    one, week = tmp_path / "one.db", tmp_path / "week.db"
    assert main(["sync", "--config", str(write_config(tmp_path, fake.url, steps=["allocation"])),
                 "--db", str(one)]) == 0
    fake.requests.clear()
    assert main(["sync", "--config", str(write_config(tmp_path, fake.url, steps=["allocation"], chunk_days=7)),
                 "--db", str(week)]) == 0
    windows = [r[1]["window"] for r in fake.requests]
    assert windows[0] == "2026-06-01T00:00:00Z,2026-06-08T00:00:00Z" and len(windows) == 5
    assert windows[-1] == "2026-06-29T00:00:00Z,2026-07-02T00:00:00Z"
    assert allocation_rows(one) == allocation_rows(week)


def test_node_source_reconciles_nodes_with_their_cloud_bill(fake: FakeOpenCost, tmp_path: Path,
                                                            db_path: Path) -> None:
    """node_source: each node's OpenCost cost against its cost in that source (matched on the
    instance id in its provider id), the gap; a node the bill does not hold stays unmatched."""
    from analysis import k8s
    from cache import CostRow

    cfg = write_config(tmp_path, fake.url, node_source="aws-prod", steps=["allocation"])
    assert main(["sync", "--config", str(cfg), "--db", str(db_path)]) == 0
    days = [FIRST + timedelta(days=i) for i in range((TODAY - FIRST).days + 1)]
    with Store(db_path) as s:
        sid = s.ensure_source("aws-prod", "aws")
        rows = [CostRow(day=d, provider_name="AWS", service_name="Amazon Elastic Compute Cloud",
                        resource_id=rid, billed_cost=0 if d.day % 2 else 7_000_000_000, effective_cost=7_000_000_000)
                for d in days for rid in ("i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60003", "i-0unrelated00000001")]
        s.replace_costs(sid, rows)
        (cl,) = k8s.clusters(s.conn, FIRST, TODAY + timedelta(days=1))
    assert cl.node_source == "aws-prod"
    by = {n.node: n for n in cl.nodes}
    expected = 7_000_000_000 * len(days)  # effective cost: covered hours bill 0 on the resource
    assert by["ip-10-0-1-10.ec2.internal"].billed == expected
    assert by["ip-10-0-2-20.ec2.internal"].billed == expected
    assert by["ip-10-0-1-11.ec2.internal"].billed is None  # not in the bill: no gap claimed
    n = by["ip-10-0-1-10.ec2.internal"]
    node = fake.cluster.nodes["ip-10-0-1-10.ec2.internal"]
    oc = sum(fake.cluster.node_cost(node).values()) * len(days)
    assert abs(n.opencost / 1e9 - oc) < 0.01 and n.gap == n.opencost - expected
    assert cl.total == cl.allocated + cl.idle and cl.billed == 2 * expected
