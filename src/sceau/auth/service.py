"""Turning a request's credentials into an authenticated client, at the level
its client must meet.

The order is fixed and documented in the integrators' guide:

1. the source address is not rate-limited for past failures;
2. level C: the certificate the front verified is one of ours, live, and its
   client's allowlist holds the source address (before any key is read);
3. the API key is live, and belongs to the certificate's client if there is one;
4. the client's level: C needs the certificate, B needs the request signature;
5. level B: header format, timestamp window, MAC in constant time, and only
   then the nonce, recorded so that a replay fails in every process.

Every refusal is recorded by source address (the rate limit), counted by
client and reason (metric) and logged without any secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.auth import hmac_scheme
from sceau.auth.errors import (
    AddressNotAllowed,
    ClientCertificateMismatch,
    ClientCertificateRequired,
    ClientCertificateRevoked,
    ClientCertificateUnknown,
    NonceReplayed,
    SignatureInvalid,
    SignatureKeyUnknown,
    SignatureMalformed,
    SignatureMissing,
    SignatureOutOfWindow,
    TooManyFailures,
)
from sceau.auth.front import Peer
from sceau.auth.models import AuthFailure, HmacNonce
from sceau.clients.errors import ApiKeyInvalid, ApiKeyMissing
from sceau.clients.models import ApiKey, Client, ClientCertificate, HmacSecret
from sceau.clients.service import (
    address_allowed,
    authenticate_api_key,
    hmac_purpose,
    is_active,
)
from sceau.db import Database, UTCDateTime, utcnow
from sceau.errors import SceauError
from sceau.ops.logs import mask_ip
from sceau.ops.metrics import AUTH_REFUSALS
from sceau.pki.keystore import KeySealer

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Recording each use would make every request a write; once a minute per
# credential is precise enough for "last used" and costs nothing.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    api_key_id: str
    level: str = "A"
    hmac_key_id: str | None = None
    certificate_fingerprint: str | None = None
    # The client's integration step (sceau.lifecycle), read with its level.
    state: str = "production"


@dataclass(frozen=True)
class RequestCredentials:
    """What a request brings, taken from it once by the HTTP layer."""

    api_key: str | None
    signature: str | None
    method: str
    host: str
    path: str
    query: str
    peer: Peer
    body_sha256: str = EMPTY_SHA256


@dataclass(frozen=True)
class Started:
    """A request past steps 1 to 4: whose it is, at which level, and the HMAC
    secret its signature names (read in the same session, checked later)."""

    credentials: RequestCredentials
    client_id: str
    api_key_id: str
    level: str
    hmac_secret: HmacSecret | None = None
    state: str = "production"


@dataclass(frozen=True)
class AuthPolicy:
    hmac_window: timedelta
    failure_limit: int
    failure_window: timedelta


class Authenticator:
    """One per process: the policy, the sealer, and the last-used throttle."""

    def __init__(self, db: Database, sealer: KeySealer, policy: AuthPolicy) -> None:
        self.db = db
        self.sealer = sealer
        self.policy = policy
        self._last_used: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def authenticate(self, credentials: RequestCredentials) -> AuthenticatedClient:
        """Every check at once, for a request whose body is already hashed
        (or that carries no request signature)."""
        return self.finish(self.begin(credentials), credentials.body_sha256)

    def begin(self, credentials: RequestCredentials) -> Started:
        """Steps 1 to 4: everything but the request signature's MAC, so that a
        request from a blocked address or with a wrong key is refused before
        its body is even read."""
        with (
            self._refusals(credentials.peer.address, None),
            self.db.sessions() as session,
        ):
            self._check_rate(session, credentials.peer.address)
            return self._identify(session, credentials)

    def finish(self, started: Started, body_sha256: str) -> AuthenticatedClient:
        """Step 5, the request signature, then what must be remembered."""
        credentials = started.credentials
        with self._refusals(credentials.peer.address, started.client_id):
            nonce: HmacNonce | None = None
            secret_id: str | None = None
            if credentials.signature is not None:
                secret_id, nonce = self._check_signature(started, body_sha256)
            result = AuthenticatedClient(
                client_id=started.client_id,
                api_key_id=started.api_key_id,
                level=started.level,
                hmac_key_id=secret_id,
                certificate_fingerprint=credentials.peer.certificate_fingerprint,
                state=started.state,
            )
            self._remember(result, nonce)
            return result

    @contextmanager
    def _refusals(self, address: str | None, client_id: str | None) -> Iterator[None]:
        try:
            yield
        except SceauError as error:
            if not isinstance(error, TooManyFailures):
                self._refused(address, getattr(error, "client_id", client_id), error)
            raise

    # -- the checks ------------------------------------------------------------

    def _check_rate(self, session: Session, address: str | None) -> None:
        if address is None:
            return
        now = utcnow()
        since = now - self.policy.failure_window
        failures, oldest = session.execute(
            _RECENT_FAILURES, {"address": address, "since": since}
        ).one()
        if failures >= self.policy.failure_limit and oldest is not None:
            # When the oldest failure of the window leaves it, the address
            # may try again.
            left = (oldest.replace(tzinfo=now.tzinfo) - since).total_seconds()
            raise TooManyFailures(retry_after=max(1, math.ceil(left)))

    def _identify(self, session: Session, credentials: RequestCredentials) -> Started:
        now = utcnow()
        peer = credentials.peer

        certificate = self._check_certificate(session, peer, now)
        key = _check_api_key(session, credentials.api_key, certificate)
        client = session.get(Client, key.client_id)
        assert client is not None  # a key's client is a foreign key

        if client.auth_level == "C" and certificate is None:
            raise _for_client(ClientCertificateRequired(), client.id)
        if client.auth_level == "B" and credentials.signature is None:
            raise _for_client(SignatureMissing(), client.id)
        return Started(
            credentials,
            client.id,
            key.id,
            client.auth_level,
            hmac_secret=_named_secret(session, credentials.signature),
            state=client.state,
        )

    def _check_certificate(
        self, session: Session, peer: Peer, now: datetime
    ) -> ClientCertificate | None:
        if peer.certificate_fingerprint is None:
            return None
        certificate = session.get(ClientCertificate, peer.certificate_fingerprint)
        if certificate is None:
            raise ClientCertificateUnknown()
        if certificate.revoked_at is not None or certificate.not_after <= now:
            raise _for_client(ClientCertificateRevoked(), certificate.client_id)
        client = session.get(Client, certificate.client_id)
        assert client is not None
        if client.auth_level == "C" and not address_allowed(client, peer.address):
            raise _for_client(AddressNotAllowed(), client.id)
        return certificate

    def _check_signature(
        self, started: Started, body_sha256: str
    ) -> tuple[str, HmacNonce]:
        credentials, client_id = started.credentials, started.client_id
        assert credentials.signature is not None
        now = utcnow()
        try:
            header = hmac_scheme.parse_header(credentials.signature)
        except hmac_scheme.MalformedSignatureHeader:
            raise _for_client(SignatureMalformed(), client_id) from None

        skew = abs(now.timestamp() - header.timestamp)
        if skew > self.policy.hmac_window.total_seconds():
            raise _for_client(SignatureOutOfWindow(), client_id)

        stored = started.hmac_secret
        if (
            stored is None
            or stored.id != header.key_id
            or stored.client_id != client_id
            or not is_active(stored, now)
        ):
            raise _for_client(SignatureKeyUnknown(), client_id)
        secret = self.sealer.unseal_bytes(
            stored.sealed_secret, hmac_purpose(stored.id)
        ).decode()
        canonical = hmac_scheme.canonical_string(
            key_id=header.key_id,
            timestamp=header.timestamp,
            nonce=header.nonce,
            method=credentials.method,
            host=credentials.host,
            path=credentials.path,
            query=credentials.query,
            body_sha256=body_sha256,
        )
        expected = hmac_scheme.compute_mac(secret, canonical)
        if not hmac.compare_digest(expected, header.mac):
            raise _for_client(SignatureInvalid(), client_id)

        expires = datetime.fromtimestamp(header.timestamp, now.tzinfo)
        return stored.id, HmacNonce(
            key_id=stored.id,
            nonce=header.nonce,
            expires_at=expires + self.policy.hmac_window,
        )

    # -- writes after the checks -------------------------------------------------

    def _remember(self, result: AuthenticatedClient, nonce: HmacNonce | None) -> None:
        """Record the nonce (a replay then fails everywhere) and, at most once
        a minute, when each credential was last used."""
        stale = self._stale_credentials(result)
        if nonce is None and not stale:
            return
        now = utcnow()
        try:
            with self.db.transaction() as session:
                if nonce is not None:
                    session.add(nonce)
                    session.flush()
                for model, credential_id in stale:
                    session.execute(
                        update(model)
                        .where(model.id == credential_id)
                        .values(last_used_at=now)
                    )
        except IntegrityError:
            raise _for_client(NonceReplayed(), result.client_id) from None

    def _stale_credentials(
        self, result: AuthenticatedClient
    ) -> list[tuple[type[ApiKey] | type[HmacSecret], str]]:
        now = utcnow()
        stale: list[tuple[type[ApiKey] | type[HmacSecret], str]] = []
        candidates: list[tuple[type[ApiKey] | type[HmacSecret], str | None]] = [
            (ApiKey, result.api_key_id),
            (HmacSecret, result.hmac_key_id),
        ]
        with self._lock:
            for model, credential_id in candidates:
                if credential_id is None:
                    continue
                seen = self._last_used.get(credential_id)
                if seen is None or now - seen >= LAST_USED_RESOLUTION:
                    self._last_used[credential_id] = now
                    stale.append((model, credential_id))
        return stale

    def _refused(
        self, address: str | None, client_id: str | None, error: SceauError
    ) -> None:
        AUTH_REFUSALS.labels(client_id or "inconnu", error.code).inc()
        logger.info(
            "auth.refused",
            extra={
                "code": error.code,
                "client_id": client_id,
                "client_net": mask_ip(address),
            },
        )
        if address is None:
            return
        with self.db.transaction() as session:
            session.add(
                AuthFailure(
                    address=address[:64], client_id=client_id, reason=error.code
                )
            )

    def purge(self) -> int:
        """Forget expired nonces and failures older than the rate window."""
        now = utcnow()
        with self.db.transaction() as session:
            nonces = session.execute(
                delete(HmacNonce).where(HmacNonce.expires_at < now)
            )
            failures = session.execute(
                delete(AuthFailure).where(
                    AuthFailure.at < now - self.policy.failure_window
                )
            )
        return sum(int(getattr(r, "rowcount", 0) or 0) for r in (nonces, failures))


# Built once: the rate check runs on every request, at every level.
_RECENT_FAILURES = select(func.count(), func.min(AuthFailure.at)).where(
    AuthFailure.address == bindparam("address"),
    AuthFailure.at > bindparam("since", type_=UTCDateTime()),
)


def _named_secret(session: Session, signature: str | None) -> HmacSecret | None:
    """The secret a signature header names, if it is well formed enough to
    name one; the header itself is judged later, in order."""
    if signature is None:
        return None
    try:
        key_id = hmac_scheme.parse_header(signature).key_id
    except hmac_scheme.MalformedSignatureHeader:
        return None
    secret = session.get(HmacSecret, key_id)
    if secret is not None:
        session.expunge(secret)
    return secret


def _check_api_key(
    session: Session, header_value: str | None, certificate: ClientCertificate | None
) -> ApiKey:
    if header_value is None or not header_value.strip():
        raise ApiKeyMissing()
    secret = header_value.strip()
    if len(secret) > MAX_KEY_LENGTH or not secret.isascii():
        raise ApiKeyInvalid()
    key = authenticate_api_key(session, secret)
    if certificate is not None and certificate.client_id != key.client_id:
        raise _for_client(ClientCertificateMismatch(), certificate.client_id)
    return key


def _for_client(error: SceauError, client_id: str) -> SceauError:
    # Which client a refusal concerns, for the metric and the failure log.
    error.client_id = client_id  # type: ignore[attr-defined]
    return error
