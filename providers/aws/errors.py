"""AWS exceptions -> one-line StepError / FatalSourceError messages.

Fatal (the source stops): expired, missing or rejected credentials, an unknown profile.
Step errors (the source's other steps still run): access denied on one API, throttling or
5xx still failing after the bounded retries, connection errors, anything else.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from providers.base import FatalSourceError, StepError
from providers.errors import SourceError

EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
REJECTED = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                      "AuthFailure", "InvalidAccessKeyId", "IncompleteSignature", "MissingAuthenticationToken"})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
                    "AuthorizationError", "AuthorizationErrorException", "OptInRequired"})
THROTTLED = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                       "TooManyRequestsException", "RequestLimitExceeded", "LimitExceededException",
                       "RequestThrottled", "SlowDown", "EC2ThrottledException", "BandwidthLimitExceeded"})

CHAIN = ("environment variables (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), the shared credentials and "
         "config files, SSO, web identity, container and instance metadata")


def _short(text: str, n: int = 160) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


def expired_message(profile: str | None) -> str:
    return f"credentials expired: run `aws sso login --profile {profile or 'default'}` or refresh them"


def translate(exc: BaseException, profile: str | None = None) -> BaseException:
    """Map an AWS/botocore exception to our one-line errors (others pass through unchanged)."""
    if isinstance(exc, SourceError):
        return exc
    name = type(exc).__name__
    if name in ("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "PendingAuthorizationExpiredError"):
        return FatalSourceError(expired_message(profile))
    if isinstance(exc, NoCredentialsError):
        which = f"profile {profile!r}" if profile else "the default profile"
        return FatalSourceError(f"no AWS credentials found (tried {CHAIN}, for {which}): "
                                "set profile = \"NAME\" for this source or export credentials")
    if isinstance(exc, ProfileNotFound):
        return FatalSourceError(f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials")
    if isinstance(exc, NoRegionError):
        return FatalSourceError("no AWS region: set region = \"us-east-1\" (or regions) for this source")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code") or "")
        msg = _short(err.get("Message") or "")
        op = exc.operation_name or "the request"
        meta = exc.response.get("ResponseMetadata", {}) or {}
        status = meta.get("HTTPStatusCode")
        attempts = meta.get("RetryAttempts")
        if code in EXPIRED:
            return FatalSourceError(expired_message(profile))
        if code in REJECTED:
            return FatalSourceError(f"credentials rejected by AWS ({code}) on {op}: check the profile or the "
                                    "environment's credentials")
        if code in DENIED:
            return StepError(f"access denied on {op} ({code}): grant it to this profile's role, or leave the step "
                             "out with steps = [...]")
        tries = f" after {int(attempts) + 1} attempts" if isinstance(attempts, int) else ""
        if code in THROTTLED:
            return StepError(f"throttled on {op}{tries} ({code}): try again later")
        if isinstance(status, int) and status >= 500:
            return StepError(f"AWS {op} failed with HTTP {status}{tries} ({code or 'server error'}: {msg})")
        return StepError(f"{op} failed: {code}: {msg}" if code else f"{op} failed: {msg}")
    if isinstance(exc, ConnectionError):
        return StepError(f"cannot reach AWS: {_short(str(exc))}")
    if name == "ResponseParserError":
        return StepError("unreadable response from AWS (not the API's format: an emulator or proxy error page?)")
    if isinstance(exc, BotoCoreError):
        return StepError(_short(f"{name}: {exc}"))
    if isinstance(exc, Exception):
        return StepError(_short(f"{name}: {exc}", 240))
    return exc


__all__ = ["DENIED", "EXPIRED", "expired_message", "translate"]
