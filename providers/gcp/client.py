"""One Google Cloud session of one source: the bearer token, one RestClient per API host, and
the BigQuery bytes counted for the sync.

* Token: google-auth Application Default Credentials (scope cloud-platform), refreshed by
  google-auth when it expires. For emulators only: with a loopback `endpoint`,
  COSTDECK_GCP_TOKEN is used if set; with any other endpoint that variable is refused (exit 2,
  providers.http.emulator_token). The token is never logged or stored.
* Hosts: bigquery, compute, monitoring, recommender, cloudbilling, {region}-aiplatform
  .googleapis.com; with
  `endpoint` every one of them is replaced by it, paths unchanged.
* Requests go through providers.http.RestClient: every attempt counted, 429 / 5xx /
  rateLimitExceeded retried with the waits recorded, 401 fatal, 403 fails the step only.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from providers.base import FatalSourceError, RequestCounter
from providers.http import RestClient, emulator_token

if TYPE_CHECKING:
    from .adapter import GcpOptions

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_ENV = "COSTDECK_GCP_TOKEN"
LABELS = {
    "bigquery.googleapis.com": "BigQuery",
    "compute.googleapis.com": "Compute Engine",
    "monitoring.googleapis.com": "Cloud Monitoring",
    "recommender.googleapis.com": "Recommender",
    "cloudbilling.googleapis.com": "Cloud Billing Catalog",
}
# Tests replace this to record waits instead of sleeping (throttling, job polling, operations).
SLEEP = time.sleep


def _sleep(seconds: float) -> None:
    SLEEP(seconds)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


class Gcp:
    """The clients of one source (thread-confined: one sync or one cleanup)."""

    def __init__(self, options: GcpOptions, source: str, counter: RequestCounter | None = None) -> None:
        self.options = options
        self.source = source
        self.counter = counter if counter is not None else RequestCounter()
        self._clients: dict[str, RestClient] = {}
        self._token: str | None = None
        self._creds: Any = None
        self._lock = threading.Lock()
        self.bytes_processed = 0
        self.bytes_billed = 0
        self.jobs = 0
        self.dry_run_bytes: int | None = None

    # -- credentials ---------------------------------------------------------------------
    def start(self) -> None:
        """Resolve the credentials now (a missing or expired one stops the source with one line)."""
        self.token()

    def token(self) -> str | None:
        with self._lock:
            if self._token is None and self._creds is None:
                tok = emulator_token(TOKEN_ENV, self.options.endpoint, self.source)
                if tok is not None:
                    self._token = tok
                    return tok
                self._creds = self._adc()
            if self._token is not None:
                return self._token
            return self._fresh(self._creds)

    def _adc(self) -> Any:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            creds, _project = google.auth.default(scopes=[SCOPE])
        except DefaultCredentialsError as exc:
            raise FatalSourceError(
                f"no Google credentials: Application Default Credentials not found (run `gcloud auth "
                f"application-default login` or set GOOGLE_APPLICATION_CREDENTIALS): {' '.join(str(exc).split())[:160]}"
            ) from None
        return creds

    def _fresh(self, creds: Any) -> str | None:
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request

        if not getattr(creds, "valid", False):
            try:
                creds.refresh(Request())
            except GoogleAuthError as exc:
                raise FatalSourceError(
                    f"Google credentials could not be refreshed (expired or revoked; run `gcloud auth "
                    f"application-default login`): {' '.join(str(exc).split())[:160]}") from None
        tok = getattr(creds, "token", None)
        return str(tok) if tok else None

    # -- clients -------------------------------------------------------------------------
    def api(self, host: str) -> RestClient:
        """The client of one Google API host (the endpoint replaces it, paths unchanged)."""
        c = self._clients.get(host)
        if c is None:
            base = self.options.endpoint or f"https://{host}"
            label = LABELS.get(host) or ("Vertex AI" if host.endswith("aiplatform.googleapis.com") else host)
            c = RestClient(base, label=label, token=self.token, counter=self.counter,
                           max_attempts=self.options.max_attempts, sleep=_sleep,
                           auth_hint=f"source {self.source!r}: run `gcloud auth application-default login`")
            self._clients[host] = c
        return c

    @property
    def bigquery(self) -> RestClient:
        return self.api("bigquery.googleapis.com")

    @property
    def compute(self) -> RestClient:
        return self.api("compute.googleapis.com")

    @property
    def monitoring(self) -> RestClient:
        return self.api("monitoring.googleapis.com")

    @property
    def recommender(self) -> RestClient:
        return self.api("recommender.googleapis.com")

    def aiplatform(self, region: str) -> RestClient:
        return self.api(f"{region}-aiplatform.googleapis.com")

    @property
    def waited_s(self) -> float:
        return sum(c.waited_s for c in self._clients.values())

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    # -- the cost of looking -------------------------------------------------------------
    def add_bytes(self, processed: int, billed: int) -> None:
        self.bytes_processed += processed
        self.bytes_billed += billed
        self.jobs += 1

    def bytes_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jobs": self.jobs, "bytes_processed": self.bytes_processed,
                               "bytes_billed": self.bytes_billed}
        if self.dry_run_bytes is not None:
            out["backfill_estimate_bytes"] = self.dry_run_bytes
        return out

    def bytes_text(self) -> str:
        text = f"{human_bytes(self.bytes_processed)} processed, {human_bytes(self.bytes_billed)} billed"
        if self.dry_run_bytes is not None:
            text += f" (dry run estimate {human_bytes(self.dry_run_bytes)})"
        return text


__all__ = ["Gcp", "SCOPE", "TOKEN_ENV", "human_bytes"]
