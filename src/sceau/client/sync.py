"""``SceauClient``: one method per B2B endpoint, on httpx."""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from sceau.auth.hmac_scheme import HEADER as SIGNATURE_HEADER
from sceau.auth.hmac_scheme import sign_request
from sceau.client.errors import SceauApiError, SceauTransportError

API = "/api/v1/sceau/b2b"
RETRY_STATUSES = frozenset({502, 503, 504})

CertSpec = tuple[str | Path, str | Path] | tuple[str | Path, str] | str | Path


@dataclass(frozen=True)
class SignedDocument:
    """The signing answer, with the signed PDF already decoded."""

    ref_signature: str
    pdf_signe: bytes
    sha256_signe: str
    ref_horodatage: str
    duree_traitement_ms: int
    statut: str = "signe"
    mode: str = "systeme"
    ref_delegation: str | None = None


class SceauClient:
    """A client for one integrator's credentials.

    ``cert`` is either ``(certificate.pem, key.pem)`` or ``(bundle.p12,
    passphrase)``; ``verify`` is the CA bundle that authenticates the server
    (``True``: the system's). ``clock`` and ``nonce`` exist for tests that
    need a given signature; leave them alone otherwise.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        hmac_secret: str | None = None,
        cert: CertSpec | None = None,
        verify: bool | str | Path = True,
        timeout: float = 30.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_urlsafe(18),
    ) -> None:
        self.api_key = api_key
        self.hmac_secret = hmac_secret
        self.retries = retries
        self._clock = clock
        self._nonce = nonce
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            verify=_ssl_context(verify, cert),
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> SceauClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- signing -----------------------------------------------------------------

    def sign_system(
        self,
        *,
        code_09: str,
        nom_signataire: str,
        motif: str,
        pdf: bytes,
        niveau: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        type_acte: str | None = None,
        montant: int | None = None,
    ) -> SignedDocument:
        """Mode système: sign ``pdf`` in the name of the system identity.
        ``type_acte`` (and ``montant``) are required once the client has an
        authority matrix."""
        return self._post_signature(
            {
                "code_09": code_09,
                "nom_signataire": nom_signataire,
                "motif": motif,
                "niveau": niveau,
                "callback_url": callback_url,
                "type_acte": type_acte,
                "montant": montant,
            },
            pdf,
            idempotency_key,
        )

    def sign_delegated(
        self,
        *,
        code_09: str,
        nom_signataire: str,
        motif: str,
        pdf: bytes,
        type_acte: str,
        montant: int,
        niveau: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> SignedDocument:
        """Mode déléguée: sign ``pdf`` in the name of the person ``code_09``,
        inside the envelope of their delegation; outside it the API answers
        403 ``hors_enveloppe`` and ``SceauApiError.details["limite"]`` says
        which limit was crossed."""
        return self._post_signature(
            {
                "code_09": code_09,
                "nom_signataire": nom_signataire,
                "motif": motif,
                "niveau": niveau,
                "callback_url": callback_url,
                "type_acte": type_acte,
                "montant": montant,
            },
            pdf,
            idempotency_key,
        )

    def _post_signature(
        self, fields: dict[str, Any], pdf: bytes, idempotency_key: str | None
    ) -> SignedDocument:
        payload = {name: value for name, value in fields.items() if value is not None}
        payload["pdf_b64"] = base64.b64encode(pdf).decode()
        answer = self._json(
            "POST",
            f"{API}/signer",
            payload,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        return signed_document(answer)

    def get_signature(self, ref: str) -> dict[str, Any]:
        """The record of one of one's signatures (without the PDF)."""
        result: dict[str, Any] = self._json("GET", f"{API}/signatures/{ref}")
        return result

    def download_signed_pdf(self, ref: str) -> bytes:
        return self._send("GET", f"{API}/signatures/{ref}/pdf").content

    # -- acts (mode humaine déclenchée par API) ---------------------------------------

    def create_act(
        self,
        *,
        code_09: str,
        motif: str,
        pdf: bytes,
        expire_le: datetime | str | None = None,
        niveau: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Prepare ``pdf`` for the person ``code_09`` to sign; they are told by
        e-mail. ``expire_le`` needs its UTC offset."""
        payload: dict[str, Any] = {
            "code_09": code_09,
            "motif": motif,
            "pdf_b64": base64.b64encode(pdf).decode(),
        }
        if expire_le is not None:
            payload["expire_le"] = (
                expire_le.isoformat() if isinstance(expire_le, datetime) else expire_le
            )
        if niveau is not None:
            payload["niveau"] = niveau
        if callback_url is not None:
            payload["callback_url"] = callback_url
        result: dict[str, Any] = self._json(
            "POST",
            f"{API}/actes",
            payload,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        return result

    def get_act(self, ref_acte: str) -> dict[str, Any]:
        """The act's state (``statut``, and once signed ``ref_signature``…)."""
        result: dict[str, Any] = self._json("GET", f"{API}/actes/{ref_acte}")
        return result

    def download_act_pdf(self, ref_acte: str) -> bytes:
        """The signed PDF, once the person has signed (else 409 acte_non_signe)."""
        return self._send("GET", f"{API}/actes/{ref_acte}/pdf").content

    def cancel_act(self, ref_acte: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"{API}/actes/{ref_acte}/annulation"
        )
        return result

    def list_acts(
        self,
        *,
        statut: str | None = None,
        limite: int | None = None,
        avant: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; pass the last ``ref_acte`` as ``avant`` for the next page."""
        filters = {"statut": statut, "limite": limite, "avant": avant}
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v is not None)
        path = f"{API}/actes" + (f"?{query}" if query else "")
        result: list[dict[str, Any]] = self._json("GET", path)
        return result

    # -- delegations (mode déléguée) ---------------------------------------------------

    def draft_delegation(
        self,
        *,
        code_09: str,
        types_acte: list[str],
        jours: list[str],
        heure_debut: str,
        heure_fin: str,
        valide_du: date | str,
        valide_au: date | str,
        montant_max: int | None = None,
        montant_max_inclus: bool = False,
        fuseau_horaire: str = "Africa/Abidjan",
        quota_journalier: int | None = None,
    ) -> dict[str, Any]:
        """Propose a delegation to the officer ``code_09``; it takes effect once
        they have signed it in their signing space."""
        payload: dict[str, Any] = {
            "code_09": code_09,
            "types_acte": types_acte,
            "montant_max": montant_max,
            "montant_max_inclus": montant_max_inclus,
            "jours": jours,
            "heure_debut": heure_debut,
            "heure_fin": heure_fin,
            "fuseau_horaire": fuseau_horaire,
            "valide_du": str(valide_du),
            "valide_au": str(valide_au),
            "quota_journalier": quota_journalier,
        }
        result: dict[str, Any] = self._json("POST", f"{API}/delegations", payload)
        return result

    def get_delegation(self, ref_delegation: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "GET", f"{API}/delegations/{ref_delegation}"
        )
        return result

    def list_delegations(
        self, *, statut: str | None = None, code_09: str | None = None
    ) -> list[dict[str, Any]]:
        filters = {"statut": statut, "code_09": code_09}
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v is not None)
        path = f"{API}/delegations" + (f"?{query}" if query else "")
        result: list[dict[str, Any]] = self._json("GET", path)
        return result

    def download_delegation_pdf(self, ref_delegation: str) -> bytes:
        """The delegation as its person signed it (else 409
        delegation_non_signee)."""
        return self._send("GET", f"{API}/delegations/{ref_delegation}/pdf").content

    def cancel_delegation(self, ref_delegation: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"{API}/delegations/{ref_delegation}/annulation"
        )
        return result

    # -- anchoring -------------------------------------------------------------------

    def get_anchor(self, ref_horodatage: str) -> dict[str, Any]:
        """The Bitcoin anchoring of a signed document: status, calendars, block."""
        result: dict[str, Any] = self._json(
            "GET", f"/api/v1/sceau/horodatages/{ref_horodatage}"
        )
        return result

    def download_proof(self, ref_horodatage: str) -> bytes:
        """The document's OpenTimestamps proof (``.ots``), for ``ots verify``."""
        return self._send(
            "GET", f"/api/v1/sceau/horodatages/{ref_horodatage}.ots"
        ).content

    # -- webhooks and deliveries -------------------------------------------------------

    def create_webhook(
        self, url: str, events: list[str] | None = None
    ) -> dict[str, Any]:
        """Register an endpoint; the answer carries its ``secret`` (whsec_…)."""
        payload: dict[str, Any] = {"url": url}
        if events is not None:
            payload["evenements"] = events
        result: dict[str, Any] = self._json("POST", f"{API}/webhooks", payload)
        return result

    def list_webhooks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"{API}/webhooks")
        return result

    def update_webhook(
        self,
        webhook_id: str,
        *,
        active: bool | None = None,
        events: list[str] | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if active is not None:
            payload["actif"] = active
        if events is not None:
            payload["evenements"] = events
        result: dict[str, Any] = self._json(
            "PATCH", f"{API}/webhooks/{webhook_id}", payload
        )
        return result

    def delete_webhook(self, webhook_id: str) -> None:
        self._send("DELETE", f"{API}/webhooks/{webhook_id}")

    def webhook_secret(self, webhook_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "GET", f"{API}/webhooks/{webhook_id}/secret"
        )
        return result

    def rotate_webhook_secret(self, webhook_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"{API}/webhooks/{webhook_id}/rotation"
        )
        return result

    def list_deliveries(self, **filters: str | int) -> list[dict[str, Any]]:
        """Filters as the API names them: ``etat``, ``webhook``, ``evenement``,
        ``limite``."""
        query = "&".join(f"{name}={value}" for name, value in sorted(filters.items()))
        path = f"{API}/livraisons" + (f"?{query}" if query else "")
        result: list[dict[str, Any]] = self._json("GET", path)
        return result

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"{API}/livraisons/{delivery_id}/relivraison"
        )
        return result

    # -- credentials ---------------------------------------------------------------

    def list_credentials(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"{API}/cles")
        return result

    def rotate_api_key(self, grace_hours: float = 24, *, adopt: bool = True) -> str:
        """A new API key; the current one stays valid for ``grace_hours``.
        With ``adopt``, this client uses the new key from now on."""
        issued = self._json(
            "POST", f"{API}/cles/api", {"delai_grace_heures": grace_hours}
        )
        if adopt:
            self.api_key = issued["secret"]
        secret: str = issued["secret"]
        return secret

    def rotate_hmac_secret(self, grace_hours: float = 24, *, adopt: bool = True) -> str:
        issued = self._json(
            "POST", f"{API}/cles/hmac", {"delai_grace_heures": grace_hours}
        )
        if adopt:
            self.hmac_secret = issued["secret"]
        secret: str = issued["secret"]
        return secret

    # -- transport -----------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        body = b"" if payload is None else _dumps(payload)
        response = self._send(method, path, body, idempotency_key=idempotency_key)
        return response.json()

    def _send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"X-Identity-API-Key": self.api_key}
        if body:
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        # Only what cannot sign twice is retried: reads, and idempotent writes.
        retryable = method == "GET" or idempotency_key is not None

        attempt = 0
        while True:
            request = self._http.build_request(
                method, path, content=body, headers=headers
            )
            if self.hmac_secret is not None:
                self._sign(request, body)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                if retryable and attempt < self.retries:
                    attempt += 1
                    time.sleep(0.5 * attempt)
                    continue
                raise SceauTransportError(str(exc) or type(exc).__name__) from exc
            transient = response.status_code in RETRY_STATUSES
            if transient and retryable and attempt < self.retries:
                attempt += 1
                time.sleep(_retry_after(response, 0.5 * attempt))
                continue
            if response.is_error:
                raise _api_error(response)
            return response

    def _sign(self, request: httpx.Request, body: bytes) -> None:
        assert self.hmac_secret is not None
        raw = request.url.raw_path.decode("ascii")
        path, _, query = raw.partition("?")
        request.headers[SIGNATURE_HEADER] = sign_request(
            self.hmac_secret,
            method=request.method,
            host=request.headers["host"],
            path=path,
            query=query,
            body=body,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
        )


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 30.0)
    except ValueError:
        return default


def signed_document(answer: dict[str, Any]) -> SignedDocument:
    return SignedDocument(
        ref_signature=answer["ref_signature"],
        pdf_signe=base64.b64decode(answer["pdf_signe_b64"]),
        sha256_signe=answer["sha256_signe"],
        ref_horodatage=answer["ref_horodatage"],
        duree_traitement_ms=answer["duree_traitement_ms"],
        statut=answer["statut"],
        mode=answer.get("mode", "systeme"),
        ref_delegation=answer.get("ref_delegation"),
    )


def _api_error(response: httpx.Response) -> SceauApiError:
    request_id = response.headers.get("x-request-id")
    try:
        error = response.json()["erreur"]
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
        return SceauApiError(
            response.status_code,
            error["code"],
            error["message"],
            request_id,
            details=details,
        )
    except (ValueError, KeyError, TypeError):
        return SceauApiError(
            response.status_code, "reponse_inattendue", response.text[:200], request_id
        )


def _ssl_context(
    verify: bool | str | Path, cert: CertSpec | None
) -> ssl.SSLContext | bool:
    if cert is None and isinstance(verify, bool):
        return verify
    context = (
        ssl.create_default_context(cafile=str(verify))
        if not isinstance(verify, bool)
        else ssl.create_default_context()
    )
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        _load_client_certificate(context, cert)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: CertSpec) -> None:
    if isinstance(cert, str | Path):
        context.load_cert_chain(str(cert))
        return
    first, second = cert
    if not str(first).endswith((".p12", ".pfx")):
        context.load_cert_chain(str(first), str(second))
        return

    # The ssl module reads PEM files only: the PKCS#12 bundle is opened in
    # memory and its key handed over through a private file, removed at once.
    key, certificate, chain = pkcs12.load_key_and_certificates(
        Path(first).read_bytes(), str(second).encode()
    )
    if key is None or certificate is None:
        raise ValueError("the PKCS#12 file holds no key and certificate")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
    for extra in chain or []:
        pem += extra.public_bytes(serialization.Encoding.PEM)
    descriptor, name = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(name)
    finally:
        os.unlink(name)
