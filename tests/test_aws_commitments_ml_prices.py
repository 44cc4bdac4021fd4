"""AWS commitments, SageMaker runs and prices steps.

What moto answers and what is stubbed:
* SageMaker training jobs, STS and EC2: moto on 127.0.0.1.
* EC2 DescribeReservedInstances (moto: NotImplementedError), Savings Plans (no moto backend),
  the Cost Explorer RI/SP utilization and coverage calls (moto: NotImplementedError) and the
  Price List API (no moto backend): botocore's Stubber on the session's own clients, with
  responses shaped as the botocore models define them (Stubber validates them against the
  model).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from providers.aws import commitments as com
from providers.aws import ml
from providers.aws import pricing as pr
from providers.aws.session import AwsSession
from providers.base import StepError, SyncContext
from tests.moto_server import aws_env, make_ctx, moto_url, reset_moto  # noqa: F401

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
RI_ID = "e5a8b1c2-0000-4d2b-9c3f-1234567890ab"
SP_ARN = f"arn:aws:savingsplans::{ACCOUNT}:savingsplan/0d1f6c9e-aaaa-bbbb-cccc-000000000001"


@pytest.fixture
def url(moto_url: str, aws_env: None) -> str:  # noqa: F811
    reset_moto(moto_url)
    return moto_url


def opts(url: str, **kw: Any) -> dict[str, Any]:
    return {"endpoint_url": url, "regions": [REGION], **kw}


# -- commitments -------------------------------------------------------------------------------

RI = {
    "ReservedInstancesId": RI_ID,
    "InstanceType": "m5.large",
    "AvailabilityZone": "us-east-1a",
    "Start": datetime(2026, 1, 1, tzinfo=UTC),
    "End": datetime(2027, 1, 1, tzinfo=UTC),
    "Duration": 31536000,
    "UsagePrice": 0.0,
    "FixedPrice": 300.5,
    "InstanceCount": 2,
    "ProductDescription": "Linux/UNIX",
    "State": "active",
    "CurrencyCode": "USD",
    "InstanceTenancy": "default",
    "OfferingClass": "standard",
    "OfferingType": "Partial Upfront",
    "RecurringCharges": [{"Amount": 0.034, "Frequency": "Hourly"}],
    "Scope": "Availability Zone",
    "Tags": [{"Key": "team", "Value": "web"}],
}
SP = {
    "savingsPlanId": "0d1f6c9e-aaaa-bbbb-cccc-000000000001",
    "savingsPlanArn": SP_ARN,
    "description": "compute 1y",
    "start": "2026-06-01T00:00:00.000Z",
    "end": "2027-06-01T00:00:00.000Z",
    "state": "active",
    "region": "",
    "savingsPlanType": "Compute",
    "paymentOption": "No Upfront",
    "productTypes": ["EC2", "Fargate", "Lambda"],
    "currency": "USD",
    "commitment": "1.25",
    "upfrontPaymentAmount": "0",
    "recurringPaymentAmount": "1.25",
    "termDurationInSeconds": 31536000,
    "tags": {"owner": "finops"},
}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def _period(d: date) -> dict[str, str]:
    return {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}


def ri_agg(pct: str, fee: str, unused: str, od: str) -> dict[str, str]:
    return {"UtilizationPercentage": pct, "PurchasedHours": "48", "TotalActualHours": "36", "UnusedHours": "12",
            "OnDemandCostOfRIHoursUsed": od, "NetRISavings": "1.0", "TotalPotentialRISavings": "2.0",
            "AmortizedUpfrontFee": "1.646575", "AmortizedRecurringFee": "1.632", "TotalAmortizedFee": fee,
            "RICostForUnusedHours": unused, "RealizedSavings": "1.0", "UnrealizedSavings": "0.5"}


def stub_commitments(aws: AwsSession, days: list[date], *, ce_denied: bool = False, sp_details: bool = True,
                     ri: dict[str, Any] | None = None) -> list[Stubber]:
    ec2 = Stubber(aws.client("ec2", REGION))
    ec2.add_response("describe_reserved_instances", {"ReservedInstances": [ri or RI]}, {})
    sp = Stubber(aws.client("savingsplans", "us-east-1"))
    sp.add_response("describe_savings_plans", {"savingsPlans": [SP], "nextToken": "p2"}, {})
    sp.add_response("describe_savings_plans", {"savingsPlans": []}, {"nextToken": "p2"})
    ce = Stubber(aws.client("ce"))
    whole = {"Start": days[0].isoformat(), "End": (days[-1] + timedelta(days=1)).isoformat()}
    if ce_denied:
        ce.add_client_error("get_reservation_utilization", service_error_code="AccessDeniedException",
                            service_message="not authorized to perform ce:GetReservationUtilization",
                            http_status_code=400)
    else:
        half = len(days) // 2
        pages = [days[:half], days[half:]]
        for n, chunk in enumerate(pages):
            resp: dict[str, Any] = {"UtilizationsByTime": [{
                "TimePeriod": _period(d),
                "Groups": [{"Key": "SUBSCRIPTION_ID", "Value": "3558924876",
                            "Attributes": {"leaseId": RI_ID, "instanceType": "m5.large", "region": "us-east-1",
                                           "numberOfInstances": "2", "subscriptionId": "3558924876"},
                            "Utilization": ri_agg("75", "3.278575", "0.819644", "3.456")}],
                "Total": ri_agg("75", "3.278575", "0.819644", "3.456")} for d in chunk]}
            params: dict[str, Any] = {"TimePeriod": whole, "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]}
            if n == 0:
                resp["NextPageToken"] = "ri-p2"
            else:
                params["NextPageToken"] = "ri-p2"
            ce.add_response("get_reservation_utilization", resp, params)
        ce.add_response("get_reservation_coverage", {"CoveragesByTime": [{
            "TimePeriod": _period(d), "Groups": [],
            "Total": {"CoverageHours": {"OnDemandHours": "12", "ReservedHours": "36", "TotalRunningHours": "48",
                                        "CoverageHoursPercentage": "75"},
                      "CoverageCost": {"OnDemandCost": "1.152"}}} for d in days]},
            {"TimePeriod": whole, "Granularity": "DAILY", "Metrics": ["Hour", "Cost"]})
        sp_util = {"TotalCommitment": "30", "UsedCommitment": "27", "UnusedCommitment": "3",
                   "UtilizationPercentage": "90"}
        sp_sav = {"NetSavings": "5.5", "OnDemandCostEquivalent": "32.5"}
        ce.add_response("get_savings_plans_utilization", {
            "SavingsPlansUtilizationsByTime": [{"TimePeriod": _period(d), "Utilization": sp_util, "Savings": sp_sav}
                                               for d in days],
            "Total": {"Utilization": sp_util}},
            {"TimePeriod": whole, "Granularity": "DAILY"})
        ce.add_response("get_savings_plans_coverage", {"SavingsPlansCoverages": [{
            "Attributes": {}, "TimePeriod": _period(d),
            "Coverage": {"SpendCoveredBySavingsPlans": "27", "OnDemandCost": "9", "TotalCost": "36",
                         "CoveragePercentage": "75"}} for d in days]},
            {"TimePeriod": whole, "Granularity": "DAILY", "Metrics": ["SpendCoveredBySavingsPlans"]})
        if sp_details:
            for d in days:
                ce.add_response("get_savings_plans_utilization_details", {
                    "SavingsPlansUtilizationDetails": [{"SavingsPlanArn": SP_ARN, "Attributes": {},
                                                        "Utilization": sp_util, "Savings": sp_sav}],
                    "TimePeriod": _period(d)}, {"TimePeriod": _period(d)})
    stubs = [ec2, sp, ce]
    for s in stubs:
        s.activate()
    return stubs


def test_commitments_inventory_and_daily_usage(url: str, tmp_path: Path) -> None:
    ctx, aws = make_ctx(tmp_path / "c.db", opts(url, commitment_days=4))
    days = _days(date(2026, 11, 23), date(2026, 11, 27))
    stubs = stub_commitments(aws, days)
    n = com.sync_commitments(ctx, aws)
    for s in stubs:
        s.assert_no_pending_responses()
    s = ctx.store
    c = {r["commitment_id"]: dict(r) for r in s.conn.execute("SELECT * FROM commitments")}
    ri_arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:reserved-instances/{RI_ID}"
    assert set(c) == {ri_arn, SP_ARN}
    ri = c[ri_arn]
    assert (ri["commitment_type"], ri["instance_type"], ri["instance_count"], ri["term_months"]) == (
        "Reserved Instance", "m5.large", 2, 12)
    assert ri["upfront_nanos"] == 601_000_000_000  # 300.5 x 2, exact
    assert ri["hourly_commitment_nanos"] == 68_000_000  # 0.034 x 2
    assert (ri["payment_option"], ri["scope"], ri["state"]) == ("Partial Upfront", "Availability Zone", "active")
    assert ri["start_at"] == "2026-01-01T00:00:00+00:00" and ri["end_at"] == "2027-01-01T00:00:00+00:00"
    assert json.loads(ri["properties"])["tags"] == {"team": "web"}
    sp = c[SP_ARN]
    assert (sp["commitment_type"], sp["hourly_commitment_nanos"], sp["term_months"], sp["payment_option"]) == (
        "Savings Plan", 1_250_000_000, 12, "No Upfront")
    assert sp["sub_account_id"] == ACCOUNT and sp["source_id"] == ctx.source_id

    u = {(r["commitment_id"], r["day"]): dict(r) for r in s.conn.execute("SELECT * FROM commitment_usage")}
    assert n == 2 + len(u)
    assert len(u) == 4 * 4  # RI, all-RI, SP, all-SP x 4 days
    r1 = u[(ri_arn, "2026-11-23")]
    assert (r1["committed_nanos"], r1["unused_nanos"], r1["used_nanos"]) == (3_278_575_000, 819_644_000, 2_458_931_000)
    assert r1["on_demand_equivalent_nanos"] == 3_456_000_000 and r1["utilization_pct"] == 75.0
    assert r1["coverage_pct"] is None
    tot = u[(f"ri-total:{ACCOUNT}", "2026-11-26")]
    assert tot["utilization_pct"] == 75.0 and tot["coverage_pct"] == 75.0
    spd = u[(SP_ARN, "2026-11-24")]
    assert (spd["committed_nanos"], spd["used_nanos"], spd["unused_nanos"], spd["utilization_pct"]) == (
        30_000_000_000, 27_000_000_000, 3_000_000_000, 90.0)
    spt = u[(f"sp-total:{ACCOUNT}", "2026-11-25")]
    assert spt["coverage_pct"] == 75.0 and spt["on_demand_equivalent_nanos"] == 32_500_000_000


def test_commitment_usage_is_incremental(url: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(url, commitment_days=4, sp_details=False))
    stub_commitments(aws, _days(date(2026, 11, 23), date(2026, 11, 27)), sp_details=False)
    com.sync_commitments(ctx, aws)
    # Two days later: re-fetch the last 3 stored days' worth (late data) plus the new ones.
    later = NOW + timedelta(days=2)
    ctx2, aws2 = make_ctx(db, opts(url, commitment_days=4, sp_details=False, commitment_refresh_days=1), now=later)
    stubs = stub_commitments(aws2, _days(date(2026, 11, 25), date(2026, 11, 29)), sp_details=False)
    com.sync_commitments(ctx2, aws2)
    for s in stubs:
        s.assert_no_pending_responses()
    days = [r[0] for r in ctx2.store.conn.execute(
        "SELECT DISTINCT day FROM commitment_usage ORDER BY 1")]
    assert days == [f"2026-11-{d}" for d in range(23, 29)]


def test_unchanged_commitments_are_not_fetched_again_within_the_refresh_days(url: str, tmp_path: Path) -> None:
    """A daily sync with the same RIs and SPs makes no billed utilization/coverage request until
    commitment_refresh_days (7) have passed; then one fetch covers the whole gap. A changed
    commitment (here: the RI's count) is fetched at once."""
    db = tmp_path / "c.db"
    o = opts(url, commitment_days=10, sp_details=False)
    ctx, aws = make_ctx(db, o)
    # Stubbed answers are not counted as requests: a stub left unanswered, or a call with no
    # stub (the Stubber with no responses), is what shows whether Cost Explorer was asked.
    stubs = stub_commitments(aws, _days(date(2026, 11, 17), date(2026, 11, 27)), sp_details=False)
    com.sync_commitments(ctx, aws)
    for st in stubs:
        st.assert_no_pending_responses()
    for day in (1, 3, 6):  # the next days: inventory only (EC2 + savingsplans, not billed)
        ctx_d, aws_d = make_ctx(db, o, now=NOW + timedelta(days=day))
        ec2 = Stubber(aws_d.client("ec2", REGION))
        ec2.add_response("describe_reserved_instances", {"ReservedInstances": [RI]}, {})
        sp = Stubber(aws_d.client("savingsplans", "us-east-1"))
        sp.add_response("describe_savings_plans", {"savingsPlans": [SP]}, {})
        ce = Stubber(aws_d.client("ce"))  # no responses: a Cost Explorer call would fail
        with ec2, sp, ce:
            assert com.sync_commitments(ctx_d, aws_d) == 2
        assert "unchanged commitments" in ctx_d.detail["commitment_usage"]
    # A week later: fetched again, from the last stored day minus the late days to today.
    ctx7, aws7 = make_ctx(db, o, now=NOW + timedelta(days=7))
    stubs = stub_commitments(aws7, _days(date(2026, 11, 24), date(2026, 12, 4)), sp_details=False)
    com.sync_commitments(ctx7, aws7)
    for st in stubs:
        st.assert_no_pending_responses()
    # The next day, the RI count changes: fetched at once.
    ctx8, aws8 = make_ctx(db, o, now=NOW + timedelta(days=8))
    stubs = stub_commitments(aws8, _days(date(2026, 12, 1), date(2026, 12, 5)), sp_details=False,
                             ri={**RI, "InstanceCount": 3})
    com.sync_commitments(ctx8, aws8)
    for st in stubs:
        st.assert_no_pending_responses()
    days = [r[0] for r in ctx8.store.conn.execute("SELECT DISTINCT day FROM commitment_usage ORDER BY 1")]
    assert days == [(date(2026, 11, 17) + timedelta(days=i)).isoformat() for i in range(18)]


def test_no_commitments_means_no_cost_explorer_calls(url: str, tmp_path: Path) -> None:
    ctx, aws = make_ctx(tmp_path / "c.db", opts(url))
    ec2 = Stubber(aws.client("ec2", REGION))
    ec2.add_response("describe_reserved_instances", {"ReservedInstances": []}, {})
    sp = Stubber(aws.client("savingsplans", "us-east-1"))
    sp.add_response("describe_savings_plans", {"savingsPlans": []}, {})
    ce = Stubber(aws.client("ce"))  # no responses: any call would fail
    with ec2, sp, ce:
        assert com.sync_commitments(ctx, aws) == 0
    assert ctx.billed_api_calls == 0


def test_cost_explorer_denied_keeps_previous_usage(url: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(url, commitment_days=4, sp_details=False))
    stub_commitments(aws, _days(date(2026, 11, 23), date(2026, 11, 27)), sp_details=False)
    com.sync_commitments(ctx, aws)
    before = ctx.store.conn.execute("SELECT * FROM commitment_usage ORDER BY 1, 2, 3").fetchall()
    ctx2, aws2 = make_ctx(db, opts(url, commitment_days=4, sp_details=False, commitment_refresh_days=0), now=NOW + timedelta(days=1))
    stub_commitments(aws2, _days(date(2026, 11, 24), date(2026, 11, 28)), ce_denied=True)
    out = ctx2.run_step("commitments", com.sync_commitments, aws2)
    assert out.status == "failed" and "GetReservationUtilization" in (out.error or "")
    after = ctx2.store.conn.execute("SELECT * FROM commitment_usage ORDER BY 1, 2, 3").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert ctx2.store.conn.execute("SELECT count(*) FROM commitments").fetchone()[0] == 2


def test_reserved_instances_denied_keeps_everything(url: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(url, commitment_days=4, sp_details=False))
    stub_commitments(aws, _days(date(2026, 11, 23), date(2026, 11, 27)), sp_details=False)
    com.sync_commitments(ctx, aws)
    ctx2, aws2 = make_ctx(db, opts(url))
    with Stubber(aws2.client("ec2", REGION)) as ec2:
        ec2.add_client_error("describe_reserved_instances", service_error_code="UnauthorizedOperation",
                             service_message="You are not authorized", http_status_code=403)
        with pytest.raises(StepError, match="UnauthorizedOperation"):
            com.sync_commitments(ctx2, aws2)
    assert ctx2.store.conn.execute("SELECT count(*) FROM commitments").fetchone()[0] == 2


# -- SageMaker -----------------------------------------------------------------------------------


def create_job(sm: Any, name: str, itype: str, count: int, tags: dict[str, str], hp: dict[str, str]) -> None:
    sm.create_training_job(
        TrainingJobName=name, HyperParameters=hp,
        AlgorithmSpecification={"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/train:1", "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm", OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": itype, "InstanceCount": count, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def test_sagemaker_jobs_to_runs(url: str, tmp_path: Path) -> None:
    sm = boto3.client("sagemaker", endpoint_url=url, region_name=REGION)
    create_job(sm, "resnet50-2026-11-20-10-00", "ml.p3.2xlarge", 2, {"costdeck:task": "vision"},
               {"lr": "0.1", "epochs": "10"})
    create_job(sm, "bert-finetune-7", "ml.g5.xlarge", 1, {"team": "nlp"}, {"batch": "32"})
    create_job(sm, "xgb", "ml.m5.large", 1, {"task": "churn; rm -rf /"}, {})
    ctx, aws = make_ctx(tmp_path / "c.db", opts(url))
    n = ml.sync_sagemaker(ctx, aws)
    s = ctx.store
    runs = {r["name"]: dict(r) for r in s.conn.execute("SELECT * FROM ml_runs")}
    assert set(runs) == {"resnet50-2026-11-20-10-00", "bert-finetune-7", "xgb"}
    r = runs["resnet50-2026-11-20-10-00"]
    assert r["run_id"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/resnet50-2026-11-20-10-00"
    assert (r["task"], r["status"], r["host"]) == ("vision", "completed", REGION)
    assert runs["bert-finetune-7"]["task"] == "bert-finetune"
    assert runs["xgb"]["task"] == "churn; rm -rf /"
    # moto's only final metric is train:progress, not a quality metric: no primary metric.
    assert r["primary_metric"] is None
    assert r["start_at"].endswith("+00:00") and r["end_at"]
    props = json.loads(r["properties"])
    assert props["sagemaker_status"] == "Completed" and props["billable_estimated"] is True
    ex = [dict(e) for e in s.conn.execute("SELECT * FROM ml_executors WHERE run_id=?", (r["run_id"],))]
    assert len(ex) == 1
    assert (ex[0]["instance_type"], ex[0]["instance_count"], ex[0]["region_id"], ex[0]["resource_id"]) == (
        "ml.p3.2xlarge", 2, REGION, r["run_id"])
    assert ex[0]["billable_seconds"] == 0
    params = dict(s.conn.execute("SELECT key, value FROM ml_run_params WHERE run_id=?", (r["run_id"],)).fetchall())
    assert params == {"lr": "0.1", "epochs": "10"}
    mets = s.conn.execute("SELECT key, step, value FROM ml_run_metrics WHERE run_id=?", (r["run_id"],)).fetchall()
    assert [tuple(m) for m in mets] == [("train:progress", 0, 100.0)]
    assert n == 3 + 3 + 3 + 3 + 0  # runs + executors + metrics + params (2 + 1 + 0)
    assert ctx.counter.by_operation["sagemaker.DescribeTrainingJob"] == 3

    # A second sync lists again but does not describe finished, unchanged jobs.
    ctx2, aws2 = make_ctx(tmp_path / "c.db", opts(url))
    assert ml.sync_sagemaker(ctx2, aws2) == 0
    assert ctx2.counter.by_operation.get("sagemaker.DescribeTrainingJob", 0) == 0
    assert ctx2.counter.by_operation["sagemaker.ListTrainingJobs"] == 1
    assert ctx2.store.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 3


def test_build_run_from_documented_shape() -> None:
    t0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    job = {
        "TrainingJobName": "llm-sft-2026-11-20", "TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:training-job/llm",
        "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": "OOM",
        "HyperParameters": {"lr": "2e-5"}, "CreationTime": t0, "TrainingStartTime": t0 + timedelta(minutes=5),
        "TrainingEndTime": t0 + timedelta(hours=2), "LastModifiedTime": t0 + timedelta(hours=2),
        "TrainingTimeInSeconds": 6900, "BillableTimeInSeconds": 2300, "EnableManagedSpotTraining": True,
        "ResourceConfig": {"InstanceGroups": [{"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 4,
                                               "InstanceGroupName": "gpu"},
                                              {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1,
                                               "InstanceGroupName": "cpu"}]},
        "FinalMetricDataList": [{"MetricName": "train:loss", "Value": 0.2, "Timestamp": t0},
                                {"MetricName": "validation:accuracy", "Value": 0.91, "Timestamp": t0}],
    }
    run = ml.build_run(job, {}, "eu-west-1")
    assert (run.task, run.status, run.primary_metric, run.primary_value) == ("llm-sft", "failed",
                                                                             "validation:accuracy", 0.91)
    assert [(e.instance_type, e.instance_count, e.billable_seconds) for e in run.executors] == [
        ("ml.p4d.24xlarge", 4, 2300), ("ml.c5.xlarge", 1, 2300)]
    assert run.properties["managed_spot"] is True and run.properties["billable_estimated"] is False
    assert ml.build_run(job, {"costdeck:primary_metric": "train:loss"}, "eu-west-1").primary_metric == "train:loss"


# -- prices ------------------------------------------------------------------------------------


def price_item(itype: str, region: str, usd: str, vcpu: str, mem: str, current: str = "Yes") -> str:
    sku = "JRTCKXETXF" + itype.replace(".", "")
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": {
            "instanceType": itype, "regionCode": region, "location": "US East (N. Virginia)", "vcpu": vcpu,
            "memory": mem, "instanceFamily": "General purpose", "currentGeneration": current,
            "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
            "servicecode": "AmazonEC2"}},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {f"{sku}.JRTCKXETXF": {
                "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "endRange": "Inf", "description": f"${usd} per On Demand Linux {itype} Instance Hour",
                    "appliesTo": [], "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "beginRange": "0",
                    "pricePerUnit": {"USD": usd}}},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
                "termAttributes": {}}},
            "Reserved": {f"{sku}.4NA7Y494T4": {"priceDimensions": {f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                "unit": "Hrs", "pricePerUnit": {"USD": "0.0010000000"}}}}},
        },
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def seed_instances(ctx: SyncContext, types: list[str]) -> None:
    ctx.store.upsert("resources", [
        {"source_id": ctx.source_id, "provider_name": "AWS", "resource_id": f"i-{n}", "resource_type": "instance",
         "region_id": REGION, "instance_type": t, "first_seen": "2026-11-01T00:00:00+00:00",
         "last_seen": "2026-11-01T00:00:00+00:00"} for n, t in enumerate(types)
    ], pk=("provider_name", "resource_id"))


def ec2_filters(itype: str) -> list[dict[str, str]]:
    f = {"instanceType": itype, "regionCode": REGION, **pr.EC2_FILTERS}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in f.items()]


def test_prices_for_seen_types_cached_for_a_week(url: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(url))
    seed_instances(ctx, ["m5.large", "m5.large", "t2.micro", "x9.unknown"])
    with Stubber(aws.client("pricing", "us-east-1")) as stub:
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "NextToken": "n2", "PriceList": [
            price_item("m5.large", REGION, "0.0960000000", "2", "8 GiB")]},
            {"ServiceCode": "AmazonEC2", "Filters": ec2_filters("m5.large")})
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                          {"ServiceCode": "AmazonEC2", "Filters": ec2_filters("m5.large"), "NextToken": "n2"})
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
            price_item("t2.micro", REGION, "0.0116000000", "1", "1 GiB", current="No")]},
            {"ServiceCode": "AmazonEC2", "Filters": ec2_filters("t2.micro")})
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                          {"ServiceCode": "AmazonEC2", "Filters": ec2_filters("x9.unknown")})
        assert pr.sync_prices(ctx, aws) == 2
        stub.assert_no_pending_responses()
    p = {r["sku"]: dict(r) for r in ctx.store.conn.execute("SELECT * FROM prices")}
    assert set(p) == {"m5.large", "t2.micro"}
    m5 = p["m5.large"]
    assert (m5["price_nanos"], m5["unit"], m5["vcpu"], m5["memory_gib"], m5["family"], m5["generation"]) == (
        96_000_000, "Hrs", 2.0, 8.0, "General purpose", "current")
    assert (m5["region_id"], m5["pricing_model"], m5["source"], m5["fetched_at"]) == (
        REGION, "on-demand", "aws-pricing-api", "2026-11-27T09:00:00+00:00")
    assert p["t2.micro"]["generation"] == "previous" and p["t2.micro"]["price_nanos"] == 11_600_000

    # Six days later nothing is refetched except the type that had no price.
    ctx2, aws2 = make_ctx(db, opts(url), now=NOW + timedelta(days=6))
    assert pr.wanted(ctx2) == [(REGION, "x9.unknown")]
    # Eight days later everything is stale again.
    ctx3, _ = make_ctx(db, opts(url), now=NOW + timedelta(days=8))
    assert [t for _, t in pr.wanted(ctx3)] == ["m5.large", "t2.micro", "x9.unknown"]


def test_prices_include_sagemaker_types(url: str, tmp_path: Path) -> None:
    ctx, aws = make_ctx(tmp_path / "c.db", opts(url))
    run = ml.build_run({"TrainingJobName": "j-1", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/j-1",
                        "TrainingJobStatus": "Completed", "CreationTime": NOW,
                        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}, {}, REGION)
    ml.write_runs(ctx, [run], {}, NOW)
    assert pr.wanted(ctx) == [(REGION, "ml.m5.large")]
    item = json.loads(price_item("ml.m5.large", REGION, "0.1150000000", "2", "8 GiB"))
    item["product"]["attributes"] = {"instanceName": "ml.m5.large", "regionCode": REGION, "vCpu": "2",
                                     "memory": "8 GiB", "component": "Training"}
    with Stubber(aws.client("pricing", "us-east-1")) as stub:
        stub.add_response("get_products", {"PriceList": [json.dumps(item)]}, {
            "ServiceCode": "AmazonSageMaker", "Filters": [
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.m5.large"},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION},
                {"Type": "TERM_MATCH", "Field": "component", "Value": "Training"}]})
        assert pr.sync_prices(ctx, aws) == 1
    assert ctx.store.conn.execute("SELECT price_nanos FROM prices WHERE sku='ml.m5.large'").fetchone()[0] == 115_000_000


def test_price_step_failure_keeps_old_prices(url: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(url))
    seed_instances(ctx, ["m5.large"])
    ctx.store.upsert("prices", [{"provider_name": "AWS", "region_id": REGION, "sku": "m5.large",
                                 "pricing_model": "on-demand", "price_nanos": 90_000, "source": "aws-pricing-api",
                                 "fetched_at": "2026-10-01T00:00:00+00:00"}],
                     pk=("provider_name", "region_id", "sku", "pricing_model"))
    with Stubber(aws.client("pricing", "us-east-1")) as stub:
        stub.add_client_error("get_products", service_error_code="AccessDeniedException",
                              service_message="no pricing:GetProducts", http_status_code=400)
        out = ctx.run_step("prices", pr.sync_prices, aws)
    assert out.status == "failed"
    assert ctx.store.conn.execute("SELECT price_nanos FROM prices").fetchone()[0] == 90_000
