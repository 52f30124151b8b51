"""External RFC 3161 time-stamping authorities, tried in order.

Qualified timestamps come from third-party TSAs that are occasionally down or
slow; trying a list of them keeps signing available. A response is only accepted
when it answers *our* request (same nonce, same imprint), so a confused or
hostile server cannot slip in a token for another document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from asn1crypto import cms, tsp

from sceau.timestamping.probe import ThreadSafeProbe
from sceau.timestamping.tsa import TimeStampResponse

logger = logging.getLogger(__name__)

QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"

# Tokens with a full chain stay well under 20 KiB; anything far larger is not a
# TimeStampResp and is not worth holding in memory.
MAX_RESPONSE_SIZE = 1024 * 1024

_ACCEPTED_STATUSES = frozenset({"granted", "granted_with_mods"})

# Server-supplied text ends up in logs and error messages; keep it bounded.
_MAX_SERVER_TEXT = 200


class TimestampUnavailable(Exception):
    """No configured TSA produced an acceptable token.

    ``reasons`` holds one line per attempt, with credentials already stripped.
    """

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(
            "No time-stamping authority produced a token: " + "; ".join(self.reasons)
        )


class _AttemptFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def strip_userinfo(url: str) -> str:
    """Return ``url`` without any ``user:password@`` part, safe to log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # A URL too broken to split may still hold a secret; show nothing of it.
        return "<unparseable URL>"

    if "@" not in parts.netloc:
        return url

    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


@dataclass(frozen=True, slots=True)
class _Endpoint:
    # httpx logs every request URL at INFO, so credentials are lifted out of the
    # URL into an auth object and the URL httpx sees is already safe to show.
    url: str
    auth: httpx.BasicAuth | None


def _endpoint(url: str) -> _Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"TSA URL must be an http(s) URL: {strip_userinfo(url)}")

    if "@" not in parts.netloc:
        return _Endpoint(url=url, auth=None)

    userinfo = parts.netloc.rpartition("@")[0]
    username, _, password = userinfo.partition(":")
    return _Endpoint(
        url=strip_userinfo(url),
        auth=httpx.BasicAuth(unquote(username), unquote(password)),
    )


def _server_text(values: object) -> str:
    if not isinstance(values, list):
        return ""
    return "; ".join(str(value) for value in values)[:_MAX_SERVER_TEXT]


def _check_response(
    payload: bytes, expected_nonce: int | None, expected_imprint: tsp.MessageImprint
) -> tsp.TimeStampResp:
    try:
        response = TimeStampResponse.load(payload, strict=True)
        status_info = response["status"]
        status = status_info["status"].native
        status_text = _server_text(status_info["status_string"].native)
        fail_info = _server_text(sorted(status_info["fail_info"].native or ()))
    except Exception as exc:
        # asn1crypto raises assorted exception types on malformed DER; all mean
        # the server did not send a TimeStampResp.
        raise _AttemptFailed("response is not a DER TimeStampResp") from exc

    if status not in _ACCEPTED_STATUSES:
        raise _AttemptFailed(
            f"status {status}, statusString {status_text!r}, failInfo {fail_info!r}"
        )

    try:
        token = response["time_stamp_token"]
        signed_data = token["content"]
        encap = signed_data["encap_content_info"]
        content_type = encap["content_type"].native
        tst_info = encap["content"].parsed
        nonce = tst_info["nonce"].native
        imprint = tst_info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].dotted
        hashed_message = imprint["hashed_message"].native
    except Exception as exc:
        # Same reason as above: malformed token DER surfaces as assorted errors.
        raise _AttemptFailed("granted response holds no readable token") from exc

    if content_type != "tst_info":
        raise _AttemptFailed(f"token encapsulates {content_type}, not TSTInfo")

    if expected_nonce is not None and nonce != expected_nonce:
        raise _AttemptFailed("token nonce does not match the request")

    if (
        algorithm != expected_imprint["hash_algorithm"]["algorithm"].dotted
        or hashed_message != expected_imprint["hashed_message"].native
    ):
        raise _AttemptFailed("token message imprint does not match the request")

    return response


class FallbackHTTPTimeStamper(ThreadSafeProbe):
    """pyHanko ``TimeStamper`` that tries each TSA URL in order until one answers.

    URLs may carry ``user:password@`` for HTTP basic authentication; the
    credentials are sent to the server but never logged or put in errors.
    ``timeout`` bounds each attempt as a whole, connection to last byte.
    """

    def __init__(
        self,
        urls: Sequence[str],
        timeout: float = 10.0,
        include_nonce: bool = True,
    ) -> None:
        if not urls:
            raise ValueError("at least one TSA URL is required")

        if timeout <= 0:
            raise ValueError("timeout must be positive")

        self._endpoints = [_endpoint(url) for url in urls]
        self._timeout = timeout
        super().__init__(include_nonce=include_nonce)

    @property
    def urls(self) -> list[str]:
        """The configured URLs, credentials stripped."""
        return [endpoint.url for endpoint in self._endpoints]

    async def async_request_tsa_response(
        self, req: tsp.TimeStampReq
    ) -> tsp.TimeStampResp:
        """Return the first acceptable response; raise ``TimestampUnavailable``."""
        body = req.dump()
        expected_nonce = req["nonce"].native
        expected_imprint = req["message_imprint"]
        reasons: list[str] = []

        async with httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False
        ) as client:
            for endpoint in self._endpoints:
                try:
                    async with asyncio.timeout(self._timeout):
                        payload = await self._post(client, endpoint, body)
                    response = _check_response(
                        payload, expected_nonce, expected_imprint
                    )
                except _AttemptFailed as failure:
                    reason = failure.reason
                except TimeoutError:
                    reason = f"no complete answer within {self._timeout} s"
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                else:
                    logger.debug(
                        "tsa.external_granted", extra={"tsa_url": endpoint.url}
                    )
                    return response

                logger.warning(
                    "tsa.external_failed",
                    extra={"tsa_url": endpoint.url, "reason": reason},
                )
                reasons.append(f"{endpoint.url}: {reason}")

        raise TimestampUnavailable(reasons)

    async def async_timestamp(
        self, message_digest: bytes, md_algorithm: str
    ) -> cms.ContentInfo:
        _, request = self.request_cms(message_digest, md_algorithm)
        response = await self.async_request_tsa_response(request)

        # The response was vetted (status, nonce, imprint) when it was accepted.
        # pyHanko's own post-check is skipped on purpose: it refuses
        # grantedWithMods, which RFC 3161 counts as a success.
        token: cms.ContentInfo = response["time_stamp_token"]
        return token

    async def _post(
        self, client: httpx.AsyncClient, endpoint: _Endpoint, body: bytes
    ) -> bytes:
        headers = {"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE}
        async with client.stream(
            "POST", endpoint.url, content=body, headers=headers, auth=endpoint.auth
        ) as resp:
            if resp.status_code != httpx.codes.OK:
                raise _AttemptFailed(f"HTTP status {resp.status_code}")

            media_type = resp.headers.get("Content-Type", "").partition(";")[0]
            if media_type.strip().lower() != REPLY_CONTENT_TYPE:
                raise _AttemptFailed(
                    f"content type {media_type[:_MAX_SERVER_TEXT]!r}, "
                    f"expected {REPLY_CONTENT_TYPE}"
                )

            chunks: list[bytes] = []
            received = 0
            async for chunk in resp.aiter_bytes():
                received += len(chunk)
                if received > MAX_RESPONSE_SIZE:
                    raise _AttemptFailed("response larger than any TimeStampResp")
                chunks.append(chunk)
            return b"".join(chunks)
