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

import hmac
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
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
from sceau.db import Database, utcnow
from sceau.errors import SceauError
from sceau.ops.logs import mask_ip
from sceau.ops.metrics import AUTH_REFUSALS
from sceau.pki.keystore import KeySealer

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
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


@dataclass(frozen=True)
class RequestCredentials:
    """What a request brings, taken from it once by the HTTP layer."""

    api_key: str | None
    signature: str | None
    method: str
    host: str
    path: str
    query: str
    body_sha256: str
    peer: Peer


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
        address = credentials.peer.address
        client_id: str | None = None
        try:
            with self.db.sessions() as session:
                self._check_rate(session, address)
                result, nonce = self._verify(session, credentials)
                client_id = result.client_id
            self._remember(result, nonce)
            return result
        except SceauError as error:
            if not isinstance(error, TooManyFailures):
                self._refused(address, getattr(error, "client_id", client_id), error)
            raise

    # -- the checks ------------------------------------------------------------

    def _check_rate(self, session: Session, address: str | None) -> None:
        if address is None:
            return
        since = utcnow() - self.policy.failure_window
        failures = session.scalar(
            select(func.count())
            .select_from(AuthFailure)
            .where(AuthFailure.address == address, AuthFailure.at > since)
        )
        if failures is not None and failures >= self.policy.failure_limit:
            raise TooManyFailures(
                retry_after=int(self.policy.failure_window.total_seconds())
            )

    def _verify(
        self, session: Session, credentials: RequestCredentials
    ) -> tuple[AuthenticatedClient, HmacNonce | None]:
        now = utcnow()
        peer = credentials.peer

        certificate = self._check_certificate(session, peer, now)
        key = _check_api_key(session, credentials.api_key, certificate)
        client = session.get(Client, key.client_id)
        assert client is not None  # a key's client is a foreign key

        if client.auth_level == "C" and certificate is None:
            raise _for_client(ClientCertificateRequired(), client.id)

        secret_id: str | None = None
        nonce: HmacNonce | None = None
        if client.auth_level == "B" or credentials.signature is not None:
            secret_id, nonce = self._check_signature(session, client, credentials, now)

        return (
            AuthenticatedClient(
                client_id=client.id,
                api_key_id=key.id,
                level=client.auth_level,
                hmac_key_id=secret_id,
                certificate_fingerprint=peer.certificate_fingerprint,
            ),
            nonce,
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
        if not address_allowed(client, peer.address):
            raise _for_client(AddressNotAllowed(), client.id)
        return certificate

    def _check_signature(
        self,
        session: Session,
        client: Client,
        credentials: RequestCredentials,
        now: datetime,
    ) -> tuple[str, HmacNonce]:
        if credentials.signature is None:
            raise _for_client(SignatureMissing(), client.id)
        try:
            header = hmac_scheme.parse_header(credentials.signature)
        except hmac_scheme.MalformedSignatureHeader:
            raise _for_client(SignatureMalformed(), client.id) from None

        skew = abs(now.timestamp() - header.timestamp)
        if skew > self.policy.hmac_window.total_seconds():
            raise _for_client(SignatureOutOfWindow(), client.id)

        stored = session.get(HmacSecret, header.key_id)
        if (
            stored is None
            or stored.client_id != client.id
            or not is_active(stored, now)
        ):
            raise _for_client(SignatureKeyUnknown(), client.id)
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
            body_sha256=credentials.body_sha256,
        )
        expected = hmac_scheme.compute_mac(secret, canonical)
        if not hmac.compare_digest(expected, header.mac):
            raise _for_client(SignatureInvalid(), client.id)

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
