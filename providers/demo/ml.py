"""ML training runs (estate.ML_TASKS) with their executors, metrics, params and compute costs.

Runs fall on weekdays of the last ~60 days; some fail or are stopped, and the newest run of two
tasks is still running at the snapshot (started a few hours before `as_of` 06:00). Statuses are
normalised as providers/aws/ml.py does (running | completed | failed | stopped). Where a run
executes decides its rows:
- sagemaker: the run is keyed by its training job ARN and billed as "Amazon SageMaker" per job;
- ec2: it runs on the gpu-dev instances (already billed as EC2 by fleets.py): executors only;
- azureml: it runs on an Azure ML compute cluster, billed per day for the node-hours of all runs.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .catalog import ACCOUNTS, AWS, AZURE, N_DAYS, price
from .core import Gen, Instance
from .estate import ML_TASKS, MlTask

_REGION = {"sagemaker": "us-west-2", "ec2": "us-west-2", "azureml": "eastus"}
_AZURE_CLUSTER = ("/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-acme-dev/"
                  "computes/gpu-cluster")  # under the az-dev subscription


@dataclass(slots=True)
class _Run:
    """One training run: its id and name, status, and when it ran."""

    task: MlTask
    run_id: str
    name: str
    status: str
    day: int  # day index of the start
    start_h: float  # hour of the day it started
    start: datetime
    dur: float  # hours
    billable: int  # wall-clock seconds per instance, as SageMaker reports it

    @property
    def is_running(self) -> bool:
        return self.status == "running"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.dur)


def runs(g: Gen) -> None:
    gpu_dev = [x for x in g.insts if x.name.startswith("gpu-dev")]
    azure_cluster = f"/subscriptions/{ACCOUNTS['az-dev'].sub_id}{_AZURE_CLUSTER}"
    cluster_hours: dict[int, float] = defaultdict(float)  # day index -> node-hours on the Azure ML cluster
    for exp_id, task in enumerate(ML_TASKS, start=1):
        run_days = _run_days(g, task.runs)
        failed = set(g.rng.sample(range(task.runs - 1), 2 if task.runs >= 10 else 1))
        for k, d in enumerate(run_days):
            run = _new_run(g, task, k, d, k in failed)
            params, primary_key, primary, props = _outcome(g, run, exp_id)
            if task.kind == "sagemaker":
                host = _sagemaker_job(g, run, props)
            elif task.kind == "ec2":
                host = _on_instances(g, run, gpu_dev)
            else:
                host = _on_azure_cluster(g, run, azure_cluster, cluster_hours)
            g.ml_runs.append({
                "source_id": None, "run_id": run.run_id, "task": task.task, "name": run.name, "status": run.status,
                "start_at": g.iso(run.start), "end_at": None if run.is_running else g.iso(run.end), "host": host,
                "primary_metric": primary_key, "primary_value": round(primary, 5),
                "exit_code": {"completed": 0, "failed": 1, "stopped": 137, "running": None}[run.status],
                "properties": props,
            })
            for pk, pv in params.items():
                g.ml_params.append({"run_id": run.run_id, "key": pk, "value": str(pv)})
    _azure_cluster_costs(g, azure_cluster, cluster_hours)


def _run_days(g: Gen, n_runs: int) -> list[int]:
    """Weekdays in the last ~60 days, oldest first."""
    run_days: list[int] = []
    for _ in range(n_runs):
        d = g.rng.randint(N_DAYS - 60, N_DAYS - 2)
        while g.weekend[d]:
            d -= 1
        run_days.append(d)
    run_days.sort()
    return run_days


def _new_run(g: Gen, task: MlTask, k: int, d: int, failed: bool) -> _Run:
    """Status, start and duration of run k (started on day d), and its id and name."""
    rng = g.rng
    hmin, hmax = task.hours
    # statuses as providers/aws/ml.py normalises them: running | completed | failed | stopped
    status = "failed" if failed else "completed"
    if task.task == "recsys-ranker" and k == task.runs - 3:
        status = "stopped"
    start_h = rng.uniform(9.0, 11.5)
    dur = rng.uniform(hmin, hmax)
    if status != "completed":
        dur *= rng.uniform(0.15, 0.6)
    start = g.at(d, start_h)
    if task.last_running and k == task.runs - 1:
        status = "running"
        # started a few hours before as_of 06:00 (not the wall clock: the content stays
        # deterministic); billed so far up to then
        cutoff = g.at(N_DAYS - 1, 6.0)
        start = cutoff - timedelta(hours=rng.uniform(1.5, 3.5))
        d = (start.date() - g.start).days
        start_h = (start - g.at(d)).total_seconds() / 3600
        dur = (cutoff - start).total_seconds() / 3600
    run_id = f"{rng.getrandbits(128):032x}"  # an MLflow-style run id
    name = f"{task.task}-{g.days[d]:%m%d}-{k + 1:02d}"
    if task.kind == "sagemaker":  # SageMaker runs are keyed by the training job ARN
        name = f"{task.task}-{start:%Y-%m-%d-%H-%M-%S}-{rng.randint(100, 999)}"
        run_id = f"arn:aws:sagemaker:{_REGION[task.kind]}:{ACCOUNTS['ml'].sub_id}:training-job/{name}"
    return _Run(task, run_id, name, status, d, start_h, start, dur, int(dur * 3600))


def _outcome(g: Gen, run: _Run, exp_id: int) -> tuple[dict[str, Any], str, float, dict[str, Any]]:
    """Draws the run's params and writes its metrics: (params, primary metric, its final value, properties)."""
    rng = g.rng
    task = run.task
    params, metrics_def = _params(task.task, rng)
    steps = task.steps
    n_steps = steps if run.status == "completed" else max(2, int(steps * run.dur / task.hours[1])) \
        if not run.is_running else max(2, steps // 2)
    final = _metrics(g, run.run_id, metrics_def, n_steps, run.start, run.dur, rng)
    primary_key = metrics_def[0][0]
    props: dict[str, Any] = {"experiment_id": str(exp_id), "platform": task.kind,
                             "user": rng.choice(("alice", "bob", "chen", "dana")),
                             "git_commit": f"{rng.getrandbits(40):010x}"}
    return params, primary_key, final[primary_key], props


def _sagemaker_job(g: Gen, run: _Run, props: dict[str, Any]) -> str:
    """A SageMaker training job: billed per instance-hour, its executor is the job itself. Returns the host."""
    task, region = run.task, _REGION[run.task.kind]
    hourly = price(AWS, task.itype, region)
    tg = {"team": "ml", "env": "dev", "project": task.task}
    for day_idx, hrs in _split_days(run.day, run.start_h, run.dur):
        g.cost(day_idx, ACCOUNTS["ml"], "Amazon SageMaker", region, hrs * task.instances * hourly, rid=run.run_id,
               rname=run.name, rtype="training_job", tags=tg, qty=round(hrs * task.instances, 4))
    raw = {"completed": "Completed", "failed": "Failed", "running": "InProgress", "stopped": "Stopped"}[run.status]
    props.update({"sagemaker_status": raw, "training_seconds": run.billable, "billable_estimated": False,
                  "managed_spot": False, "tags": tg,
                  "failure_reason": "AlgorithmError: CUDA out of memory" if run.status == "failed" else None})
    g.ml_executors.append({"run_id": run.run_id, "provider_name": AWS, "resource_id": run.run_id,
                           "instance_type": task.itype, "instance_count": task.instances, "region_id": region,
                           "start_at": g.iso(run.start), "end_at": None if run.is_running else g.iso(run.end),
                           "billable_seconds": run.billable})
    return region


def _on_instances(g: Gen, run: _Run, gpu_dev: list[Instance]) -> str:
    """A run on the gpu-dev EC2 instances (billed as EC2 already): one executor per instance. Returns the host."""
    task = run.task
    for inst in gpu_dev[:task.instances]:
        g.ml_executors.append({"run_id": run.run_id, "provider_name": AWS, "resource_id": inst.rid,
                               "instance_type": task.itype, "instance_count": 1, "region_id": _REGION[task.kind],
                               "start_at": g.iso(run.start), "end_at": g.iso(run.end),
                               "billable_seconds": int(run.dur * 3600)})
    return gpu_dev[0].name


def _on_azure_cluster(g: Gen, run: _Run, azure_cluster: str, cluster_hours: dict[int, float]) -> str:
    """A run on the Azure ML cluster: its node-hours add to the cluster's daily bill. Returns the host."""
    task = run.task
    for day_idx, hrs in _split_days(run.day, run.start_h, run.dur):
        cluster_hours[day_idx] += hrs * task.instances
    g.ml_executors.append({"run_id": run.run_id, "provider_name": AZURE, "resource_id": azure_cluster,
                           "instance_type": task.itype, "instance_count": task.instances,
                           "region_id": _REGION[task.kind], "start_at": g.iso(run.start),
                           "end_at": None if run.is_running else g.iso(run.end), "billable_seconds": run.billable})
    return "gpu-cluster"


def _azure_cluster_costs(g: Gen, azure_cluster: str, cluster_hours: dict[int, float]) -> None:
    """The Azure ML cluster's daily cost rows and its resource row."""
    az_d = ACCOUNTS["az-dev"]
    hourly = price(AZURE, "Standard_NC6s_v3", "eastus")
    tg = {"team": "ml", "env": "dev", "project": "demand-forecast"}
    for day_idx in sorted(cluster_hours):
        hrs = cluster_hours[day_idx]
        g.cost(day_idx, az_d, "Azure Machine Learning", "eastus", hrs * hourly, rid=azure_cluster,
               rname="gpu-cluster", rtype="ml_compute", tags=tg, qty=round(hrs, 4))
    g.resource(az_d, azure_cluster, "ml_compute", "eastus", name="gpu-cluster", state="available",
               created=g.at(-150, 10), tags=tg, itype="Standard_NC6s_v3",
               props={"vm_size": "Standard_NC6s_v3", "min_nodes": 0, "max_nodes": 4,
                      "idle_seconds_before_scaledown": 1800, "workspace": "mlw-acme-dev"})


def _split_days(d: int, start_h: float, dur: float) -> list[tuple[int, float]]:
    """[(day index, hours)] of a run of `dur` hours starting `start_h` hours into day d (within the window)."""
    out = []
    h, left = start_h, dur
    while left > 1e-9 and d < N_DAYS:
        take = min(left, 24.0 - h)
        out.append((d, take))
        left -= take
        d, h = d + 1, 0.0
    return out


def _params(task: str, rng: random.Random) -> tuple[dict[str, Any], list[tuple[str, float, float]]]:
    """(params, [(metric key, start value, end value)]); the first metric is the primary one."""
    if task == "image-classifier":
        lr = rng.choice((1e-4, 3e-4, 1e-3))
        return ({"model": rng.choice(("resnet50", "efficientnet_b3", "vit_b16")), "learning_rate": lr,
                 "batch_size": rng.choice((64, 128, 256)), "epochs": 30, "optimizer": "adamw",
                 "augment": rng.choice(("light", "heavy"))},
                [("val_accuracy", 0.42, rng.uniform(0.86, 0.94)), ("loss", 2.1, rng.uniform(0.18, 0.35)),
                 ("val_loss", 2.2, rng.uniform(0.25, 0.45))])
    if task == "churn-model":
        return ({"max_depth": rng.choice((4, 6, 8)), "eta": rng.choice((0.05, 0.1, 0.3)),
                 "num_round": rng.choice((200, 400)), "subsample": 0.8, "objective": "binary:logistic"},
                [("val_auc", 0.62, rng.uniform(0.84, 0.9)), ("train_logloss", 0.69, rng.uniform(0.2, 0.3))])
    if task == "recsys-ranker":
        return ({"embedding_dim": rng.choice((64, 128)), "learning_rate": rng.choice((0.001, 0.003)),
                 "negatives": rng.choice((4, 8, 16)), "epochs": 20, "loss": "bpr"},
                [("ndcg_at_10", 0.11, rng.uniform(0.31, 0.38)), ("loss", 0.69, rng.uniform(0.12, 0.2))])
    return ({"model": rng.choice(("tft", "nbeats", "deepar")), "horizon_days": 28,
             "lookback_days": rng.choice((90, 180, 365)), "learning_rate": rng.choice((0.001, 0.0005)),
             "epochs": 15},
            [("neg_mape", -0.41, -rng.uniform(0.07, 0.12)), ("rmse", 180.0, rng.uniform(38.0, 55.0))])


def _metrics(g: Gen, run_id: str, defs: list[tuple[str, float, float]], n_steps: int, start: datetime,
             dur: float, rng: random.Random) -> dict[str, float]:
    """Learning curves from each metric's start value to its end value (with noise); returns the final values."""
    final: dict[str, float] = {}
    for key, v0, v1 in defs:
        value = v0
        for step in range(n_steps):
            frac = 1.0 - math.exp(-4.0 * (step + 1) / max(1, n_steps))
            value = v0 + (v1 - v0) * frac / (1.0 - math.exp(-4.0)) + rng.gauss(0, abs(v1 - v0) * 0.015)
            ts = start + timedelta(hours=dur * (step + 1) / n_steps)
            g.ml_metrics.append({"run_id": run_id, "key": key, "step": step, "ts": g.iso(ts),
                                 "value": round(value, 6)})
        final[key] = value
    return final
