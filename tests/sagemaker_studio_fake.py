"""SageMaker Studio apps on loopback, for the tests (moto has no ListApps / DescribeApp / DeleteApp).

`StudioFake(moto_url, apps)` is a FaultProxy (tests/moto_server.py: counts operations, injects
faults) that answers ListApps, DescribeApp, DeleteApp, and ListTags of an app ARN, from `apps`
(the seeded dataset, a list of dicts: domain_id, user_profile or space, app_type, app_name,
instance_type, status, created (aware datetime), last_activity, tags), and forwards every other
operation to moto (ListDomains and CreateDomain included: moto has them). The answers follow the
shapes of botocore's SageMaker service model (awsJson1_1: epoch-second timestamps, NextToken
paging, errors as {"__type", "message"}); tests/test_aws_studio_apps.py proves it with boto3.
DeleteApp marks the app Deleted (AWS keeps listing deleted apps for a while), as the real service.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.moto_server import FaultProxy

ACCOUNT = "123456789012"
JSON = [("Content-Type", "application/x-amz-json-1.1")]


def app_arn(region: str, app: dict[str, Any]) -> str:
    owner = app.get("space") or app.get("user_profile")
    return (f"arn:aws:sagemaker:{region}:{ACCOUNT}:app/{app['domain_id']}/{owner}/{app['app_type'].lower()}/"
            f"{app['app_name']}")


class StudioFake(FaultProxy):
    def __init__(self, upstream: str, apps: list[dict[str, Any]], region: str = "us-east-1") -> None:
        self.apps = apps
        self.region = region
        self.received: list[tuple[str, dict[str, Any]]] = []
        super().__init__(upstream)

    def serve(self, op: str, service: str, proto: str,
              body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if service != "sagemaker" or op not in ("ListApps", "DescribeApp", "DeleteApp", "ListTags"):
            return None
        req = json.loads(body or b"{}")
        if op == "ListTags" and ":app/" not in str(req.get("ResourceArn")):
            return None
        with self._lock:
            self.received.append((op, req))
            out = getattr(self, "_" + op)(req)
        if isinstance(out, tuple):
            code, msg = out
            payload = json.dumps({"__type": code, "message": msg}).encode()
            return 400, [*JSON, ("x-amzn-ErrorType", code)], payload
        return 200, JSON, json.dumps(out).encode()

    # -- the operations -------------------------------------------------------------------
    @staticmethod
    def _ts(value: datetime | None) -> float | None:
        return None if value is None else value.timestamp()

    def _find(self, req: dict[str, Any]) -> dict[str, Any] | None:
        for a in self.apps:
            if (a["domain_id"], a["app_type"], a["app_name"]) == (req.get("DomainId"), req.get("AppType"),
                                                                   req.get("AppName")) \
                    and a.get("user_profile") == req.get("UserProfileName") and a.get("space") == req.get("SpaceName"):
                return a
        return None

    def _summary(self, a: dict[str, Any]) -> dict[str, Any]:
        out = {"DomainId": a["domain_id"], "AppType": a["app_type"], "AppName": a["app_name"],
               "Status": a["status"], "CreationTime": self._ts(a["created"]),
               "ResourceSpec": {"InstanceType": a["instance_type"]}}
        if a.get("space"):
            out["SpaceName"] = a["space"]
        else:
            out["UserProfileName"] = a["user_profile"]
        return out

    def _ListApps(self, req: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        apps = [a for a in self.apps if req.get("DomainIdEquals") in (None, a["domain_id"])]
        apps.sort(key=lambda a: a["created"], reverse=req.get("SortOrder", "Descending") == "Descending")
        start = int(req.get("NextToken") or 0)
        size = int(req.get("MaxResults") or 10)
        out: dict[str, Any] = {"Apps": [self._summary(a) for a in apps[start:start + size]]}
        if start + size < len(apps):
            out["NextToken"] = str(start + size)
        return out

    def _DescribeApp(self, req: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:  # noqa: N802
        a = self._find(req)
        if a is None:
            return "ResourceNotFound", f"App {req.get('AppName')} does not exist."
        out = {**self._summary(a), "AppArn": app_arn(self.region, a),
               "LastUserActivityTimestamp": self._ts(a.get("last_activity"))}
        return {k: v for k, v in out.items() if v is not None}

    def _DeleteApp(self, req: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:  # noqa: N802
        a = self._find(req)
        if a is None:
            return "ResourceNotFound", f"App {req.get('AppName')} does not exist."
        if a["status"] != "InService":
            return "ResourceInUse", f"App {a['app_name']} is {a['status']}."
        a["status"] = "Deleted"
        return {}

    def _ListTags(self, req: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:  # noqa: N802
        for a in self.apps:
            if app_arn(self.region, a) == req["ResourceArn"]:
                return {"Tags": [{"Key": k, "Value": v} for k, v in (a.get("tags") or {}).items()]}
        return "ResourceNotFound", f"{req['ResourceArn']} does not exist."
