"""ML optimization data (issue 15): utilization profiles of every demo run, one more training task
(llm-finetune, where the ML waste is plain), SageMaker endpoints and notebook instances with their
CloudWatch metrics. Drawn from its OWN random source (seeded from the demo seed), after ml.runs,
so the rest of the snapshot is the same as without it.

What the rules find in it (the snapshot's as_of is day N_DAYS - 1, 06:00 UTC):
- ml_underutilized_executor: llm-finetune runs (recorded by `costdeck track` on a g5.12xlarge,
  4 GPUs) with GPU p95 ~18 %: one GPU would do (g5.2xlarge);
- ml_spot_training: churn-model's short SageMaker jobs, llm-finetune's checkpointed ones;
- ml_failed_runs: 2 of llm-finetune's 6 runs die at step ~37 (CUDA out of memory): > 20 % of its spend;
- ml_idle_endpoint: image-classifier-staging (last invocation 23 days ago), recsys-shadow (never);
- ml_idle_notebook: alice-scratch and chen-gpu-notebook (CPU ~0.5 % for days); bob-eda works;
- cost per outcome: llm-finetune's 2.1-hour run reaches 0.801 for a third of the best run's cost
  (0.809): the cheapest good run, first on the Pareto frontier.
llm-finetune's tracked runs are costed at price x duration (the GPU box is not in the demo's bill,
so the bill's totals are those of the rest of the demo); endpoints and notebooks likewise save at
their on-demand price.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from .catalog import ACCOUNTS, AWS, N_DAYS
from .core import Gen

REGION = "us-west-2"
TASK = "llm-finetune"
ITYPE = "g5.12xlarge"
HOST = "gpu-box-3"
# (hours, status, final eval_accuracy): the 2.1 h run is the cheap good one
LLM_RUNS = ((3.0, "completed", 0.781), (5.5, "failed", None), (4.2, "completed", 0.804), (2.1, "completed", 0.801),
            (6.0, "failed", None), (4.8, "completed", 0.809))
LLM_DAYS = (-27, -23, -19, -14, -9, -5)  # days before as_of
# typical utilization (mean %, spread) per task and metric
PROFILES: dict[str, dict[str, tuple[float, float]]] = {
    "image-classifier": {"cpu": (38, 8), "memory": (55, 5), "gpu": (86, 6), "gpu_memory": (71, 4)},
    "churn-model": {"cpu": (64, 12), "memory": (42, 6)},
    "recsys-ranker": {"cpu": (30, 6), "memory": (48, 5), "gpu": (72, 9), "gpu_memory": (64, 5)},
    "demand-forecast": {"cpu": (22, 5), "memory": (35, 4), "gpu": (58, 10), "gpu_memory": (40, 5)},
    TASK: {"cpu": (9, 2), "memory": (31, 3), "gpu": (13, 3), "gpu_memory": (22, 2)},
}
GPUS = {"image-classifier": 1, "recsys-ranker": 1, "demand-forecast": 1, TASK: 4}
SAMPLE_MIN = 10


def build(g: Gen) -> None:
    rng = random.Random(g.seed * 1000 + 15)
    _llm_runs(g, rng)
    for run in list(g.ml_runs):
        _profile(g, rng, run)
    _serving(g, rng)


def _llm_runs(g: Gen, rng: random.Random) -> None:
    for k, ((hours, status, final), back) in enumerate(zip(LLM_RUNS, LLM_DAYS, strict=True)):
        d = N_DAYS - 1 + back
        start = g.at(d, 9.0 + k * 0.37)
        dur = hours * (0.4 + 0.05 * k) if status == "failed" else hours
        end = start + timedelta(hours=dur)
        name = f"{TASK}-{start:%m%d}-{k + 1:02d}"
        arn = f"track-{rng.getrandbits(128):032x}"
        steps = 37 + k % 2 if status == "failed" else 100
        value = 0.35
        for step in range(steps):
            frac = 1 - math.exp(-4.0 * (step + 1) / 100)
            target = final if final is not None else 0.79
            value = 0.35 + (target - 0.35) * frac / (1 - math.exp(-4.0)) + rng.gauss(0, 0.003)
            ts = start + timedelta(hours=dur * (step + 1) / steps)
            g.ml_metrics.append({"run_id": arn, "key": "eval_accuracy", "step": step, "ts": g.iso(ts),
                                 "value": round(value, 5)})
        g.ml_runs.append({
            "source_id": None, "run_id": arn, "task": TASK, "name": name, "status": status,
            "start_at": g.iso(start), "end_at": g.iso(end), "host": HOST, "primary_metric": "eval_accuracy",
            "primary_value": final if final is not None else round(value, 5),
            "exit_code": 1 if status == "failed" else 0,
            "properties": {"platform": "track", "command": ["python", "finetune.py", "--config", "lora.yaml"],
                           "user": "dana", "duration_s": round(dur * 3600, 3), "instance_source": "flag",
                           "checkpoint": f"s3://acme-ml-checkpoints/{TASK}/", "sample_interval_s": 5.0,
                           "gpu_source": "nvml",
                           "failure_reason": "torch.cuda.OutOfMemoryError: CUDA out of memory"
                           if status == "failed" else None},
        })
        g.ml_executors.append({"run_id": arn, "provider_name": AWS, "resource_id": None, "instance_type": ITYPE,
                               "instance_count": 1, "region_id": REGION, "start_at": g.iso(start),
                               "end_at": g.iso(end), "billable_seconds": int(dur * 3600)})
        for pk, pv in (("base_model", "llama-3-8b"), ("lora_rank", 8 * (1 + k % 3)), ("learning_rate", 2e-4),
                       ("per_device_batch_size", 4 if status == "failed" else 2)):
            g.ml_params.append({"run_id": arn, "key": pk, "value": str(pv)})


def _profile(g: Gen, rng: random.Random, run: dict[str, Any]) -> None:
    prof = PROFILES.get(run["task"])
    if prof is None:
        return
    start = datetime.fromisoformat(run["start_at"])
    end = datetime.fromisoformat(run["end_at"]) if run["end_at"] else g.snap
    n = max(2, int((end - start).total_seconds() // (SAMPLE_MIN * 60)))
    hosts = 2 if run["task"] in ("image-classifier", "demand-forecast") else 1
    for h in range(1, hosts + 1):
        host = HOST if run["task"] == TASK else f"algo-{h}"
        for metric, (mean, spread) in prof.items():
            for i in range(n):
                warm = min(1.0, (i + 1) / 3)  # the first samples load data
                v = max(0.0, min(100.0, rng.gauss(mean * warm, spread)))
                ts = start + timedelta(minutes=SAMPLE_MIN * i)
                if ts >= g.snap:  # a demo written before as_of 06:00 ends at the wall clock
                    break
                g.ml_profiles.append({"run_id": run["run_id"], "host": host, "metric": metric, "ts": g.iso(ts),
                                      "value": round(v, 1),
                                      "gpus": GPUS.get(run["task"]) if metric.startswith("gpu") else None})


def _serving(g: Gen, rng: random.Random) -> None:
    acct = ACCOUNTS["ml"]
    last = N_DAYS - 1
    tags = {"team": "ml", "env": "dev"}
    for name, itype, count, created, last_used in (
            ("churn-scoring", "ml.m5.xlarge", 2, -140, 0), ("image-classifier-staging", "ml.g4dn.xlarge", 1, -80, 23),
            ("recsys-shadow", "ml.m5.2xlarge", 1, -45, None)):
        arn = f"arn:aws:sagemaker:{REGION}:{acct.sub_id}:endpoint/{name}"
        g.resource(acct, arn, "sagemaker_endpoint", REGION, name=name, state="InService",
                   created=g.at(last + created, 14.0), tags={**tags, "project": name.split("-")[0]}, itype=itype,
                   props={"endpoint_config_name": f"{name}-config", "instance_count": count,
                          "variants": [{"variant": "AllTraffic", "instance_type": itype, "count": count,
                                        "model": f"{name}-model"}],
                          "model_names": [f"{name}-model"]})
        for back in range(30):
            if last_used is None or back < last_used:
                continue
            day = last - back
            calls = rng.randint(18_000, 42_000) if last_used == 0 else rng.randint(20, 300)
            g.metrics.append({"provider_name": AWS, "resource_id": arn, "metric": "invocations",
                              "ts": g.iso(g.at(day)), "period_s": 86400, "average": float(calls),
                              "maximum": float(calls), "p99": None})
    for name, itype, busy, owner in (("alice-scratch", "ml.t3.xlarge", False, "alice"),
                                     ("chen-gpu-notebook", "ml.g4dn.xlarge", False, "chen"),
                                     ("bob-eda", "ml.m5.xlarge", True, "bob")):
        arn = f"arn:aws:sagemaker:{REGION}:{acct.sub_id}:notebook-instance/{name}"
        g.resource(acct, arn, "sagemaker_notebook", REGION, name=name, state="InService",
                   created=g.at(last - 60, 10.0), tags={**tags, "owner": owner}, itype=itype, props={})
        for back in range(14):
            day = last - back
            idle = not busy and back <= 4 + (name == "alice-scratch")
            avg = rng.uniform(0.3, 0.9) if idle else rng.uniform(12, 38)
            g.metrics.append({"provider_name": AWS, "resource_id": arn, "metric": "cpu", "ts": g.iso(g.at(day)),
                              "period_s": 86400, "average": round(avg, 2), "maximum": round(avg * 2.5, 2),
                              "p99": None})
