"""A small, hand-computable dataset for view and report tests.

Days 2026-09-01 .. 2026-11-26 (the clock is pinned to 2026-11-26 12:00 UTC):
  AWS / Amazon EC2 / account 111 "Prod":  i-web1 $10/day ($12/day in November), i-evil $5/day
  AWS / Amazon S3  / account 222 "Data":  bucket-1 $2/day
  Microsoft / Virtual Machines / sub-a "Sub A": vm-1 $3/day, tag team=ml
So: October total $620; Nov 1-26 $572 vs Oct 1-26 $520 (+10%); last 30 days (Oct 28 - Nov 26):
EC2 $502, VMs $90, S3 $60, total $652.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from cache import CostRow, Store
from cache.money import to_nanos

NOW = "2026-11-26T12:00:00+00:00"
FIRST = date(2026, 9, 1)
LAST = date(2026, 11, 26)
EVIL_NAME = "[bold red]evil[/] \x1b[31mred $(rm -rf ~) `id`; " + "x" * 300
EVIL_ID = "i-evil"


def build(path: Path) -> Path:
    with Store(path) as store:
        sid = store.ensure_source("known", "focus")
        rows = []
        d = FIRST
        while d <= LAST:
            web = "12" if d.month == 11 else "10"
            rows += [
                CostRow(day=d, provider_name="AWS", billing_account_id="999", billing_account_name="Payer",
                        sub_account_id="111", sub_account_name="Prod", service_name="Amazon EC2",
                        service_category="Compute", region_id="us-east-1", resource_id="i-web1",
                        resource_name="web-1", resource_type="Instance", tags={"team": "web", "env": "prod"},
                        billed_cost=to_nanos(web), effective_cost=to_nanos(web), list_cost=to_nanos(web) * 2),
                CostRow(day=d, provider_name="AWS", billing_account_id="999", billing_account_name="Payer",
                        sub_account_id="111", sub_account_name="Prod", service_name="Amazon EC2",
                        service_category="Compute", region_id="us-east-1", resource_id=EVIL_ID,
                        resource_name=EVIL_NAME, resource_type="Instance", tags={"team": "[red]x[/]"},
                        billed_cost=to_nanos("5"), effective_cost=to_nanos("5"), list_cost=to_nanos("5")),
                CostRow(day=d, provider_name="AWS", billing_account_id="999", billing_account_name="Payer",
                        sub_account_id="222", sub_account_name="Data", service_name="Amazon S3",
                        service_category="Storage", region_id="us-west-2", resource_id="bucket-1",
                        resource_type="Bucket", billed_cost=to_nanos("2"), effective_cost=to_nanos("2"),
                        list_cost=to_nanos("2")),
                CostRow(day=d, provider_name="Microsoft", billing_account_id="ea-1",
                        sub_account_id="sub-a", sub_account_name="Sub A", service_name="Virtual Machines",
                        service_category="Compute", region_id="westeurope", resource_id="vm-1",
                        resource_type="Virtual machine", tags={"team": "ml"}, billed_cost=to_nanos("3"),
                        effective_cost=to_nanos("3"), list_cost=to_nanos("3")),
            ]
            d += timedelta(days=1)
        store.replace_costs(sid, rows)
        store.set_meta("snapshot_time", NOW)
    return path
