"""The fake's answers use the documented shapes: every field it returns is a property of the
discovery document's schema (tests/data/gcp, from google-api-python-client's discovery cache)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tests.fake_gcp import DETAILED, FakeGcp, Line, recommendation

DATA = Path(__file__).parent / "data" / "gcp"


def schemas(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / name).read_text(encoding="utf-8"))["schemas"])


def check(obj: Any, schema: str, all_schemas: dict[str, Any], path: str = "") -> None:
    """Every key of `obj` is a property of `schema`, recursively through $ref and arrays of $ref."""
    props = all_schemas[schema]["properties"]
    for key, value in obj.items():
        assert key in props, f"{path}{key} is not in {schema}"
        spec = props[key]
        ref = spec.get("$ref") or (spec.get("items") or {}).get("$ref")
        if ref and ref in all_schemas and "properties" in all_schemas[ref]:
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict):
                    check(v, ref, all_schemas, f"{path}{key}.")


def test_bigquery_answers_match_the_discovery_schemas() -> None:
    s = schemas("gcp_bigquery_v2_jobs_query_discovery_subset.json")
    fake = FakeGcp()
    fake.add_lines([Line(date(2025, 3, 1), "shop-prod", "BigQuery", "Analysis", "1.25", region="us-east1")])
    body = {"query": f"SELECT project.id AS p, CAST(SUM(CAST(cost AS NUMERIC)) AS STRING) AS c FROM `{DETAILED}` "
                     "GROUP BY 1", "useLegacySql": False, "maxResults": 10}
    check(body, "QueryRequest", s)
    status, resp = fake.bq_query("billing-admin", body)
    assert status == 200 and resp["jobComplete"] is True
    check(resp, "QueryResponse", s)
    assert resp["rows"] == [{"f": [{"v": "shop-prod"}, {"v": "1.250000000"}]}]  # NUMERIC as a string
    fake.pending_polls = 1
    status, resp = fake.bq_query("billing-admin", body)
    check(resp, "QueryResponse", s)
    assert resp["jobComplete"] is False and not resp.get("rows")
    _, page = fake.bq_results("billing-admin", resp["jobReference"]["jobId"], {})
    check(page, "GetQueryResultsResponse", s)
    _, done = fake.bq_results("billing-admin", resp["jobReference"]["jobId"], {})
    check(done, "GetQueryResultsResponse", s)
    assert done["jobComplete"] is True and done["totalRows"] == "1"
    _, dry = fake.bq_query("billing-admin", {**body, "dryRun": True})
    check(dry, "QueryResponse", s)
    assert int(dry["totalBytesProcessed"]) > 0


def test_recommendations_match_the_discovery_schemas() -> None:
    s = schemas("gcp_recommender_v1_discovery_subset.json")
    rec = recommendation("p-12345", "us-central1-a", "google.compute.instance.IdleResourceRecommender",
                         "//compute.googleapis.com/projects/p-12345/zones/us-central1-a/instances/x", 12,
                         description="Save cost by stopping Idle VM 'x'.")
    check({"recommendations": [rec], "nextPageToken": "2"}, "GoogleCloudRecommenderV1ListRecommendationsResponse", s)
    assert datetime.fromisoformat(rec["lastRefreshTime"].replace("Z", "+00:00")).tzinfo == UTC
