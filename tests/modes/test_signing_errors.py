"""Every way ``POST /api/v1/sceau/b2b/signer`` refuses a request: the status,
the stable French error, and nothing written anywhere."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.anchoring.models import AnchorRecord
from sceau.app import create_app
from sceau.audit.actors import Actor
from sceau.clients.service import revoke_api_key
from sceau.idempotency.models import IdempotencyKey
from sceau.identities.codes import make_code
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord, SignedDocument
from tests.conftest import Provisioned, provision, sign_body
from tests.support.pdfs import encrypted_pdf, large_pdf

SIGN = "/api/v1/sceau/b2b/signer"
WRITTEN = (SignatureRecord, SignedDocument, AnchorRecord, IdempotencyKey)
NOTHING = dict.fromkeys((model.__tablename__ for model in WRITTEN), 0)

_FRENCH = {
    "le", "la", "les", "de", "du", "des", "un", "une", "est", "doit", "pas",
    "ce", "cette", "au", "aux", "en", "ou", "et", "ne", "champ", "champs",
    "l", "d", "n", "à", "réessayez", "octets",
}  # fmt: skip
_ENGLISH = {
    "the", "is", "must", "should", "field", "required", "invalid", "not",
    "error", "missing", "please", "internal", "server",
}  # fmt: skip


def row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            or 0
            for model in WRITTEN
        }


def assert_french_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"erreur"}
    assert set(body["erreur"]) == {"code", "message"}
    assert body["erreur"]["code"] == code
    message = body["erreur"]["message"]
    assert isinstance(message, str) and message.strip()
    words = set(re.findall(r"[a-zàâçéèêëîïôûùüÿœ]+", message.lower()))
    assert words & _FRENCH, f"not French: {message!r}"
    assert not words & _ENGLISH, f"English words in: {message!r}"


def post_sign(
    api: TestClient, provisioned: Provisioned, body: dict[str, object]
) -> httpx.Response:
    return api.post(SIGN, headers=provisioned.headers, json=body)


@pytest.fixture
def small_limits(runtime: Runtime) -> Iterator[TestClient]:
    """The same database and PKI behind an app with small body and PDF limits."""
    settings = runtime.settings.model_copy(
        update={"max_body_bytes": 4096, "max_pdf_bytes": 2048}
    )
    limited = Runtime(settings)
    limited.prepare()
    with TestClient(create_app(settings, limited)) as client:
        yield client
    limited.close()


# --- The body ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code_09": "09S-ATLANTASYS-X", ',
        b"pas du json",
        b"",
        b"\xff\xfe{}",
        b"[]",
        b'"une chaine"',
    ],
)
def test_sign_rejects_malformed_json(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, raw: bytes
) -> None:
    before = row_counts(runtime)

    response = api.post(
        SIGN,
        headers={**atlanta.headers, "Content-Type": "application/json"},
        content=raw,
    )

    assert_french_error(response, 400, "json_invalide")
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "pdf_b64",
    ["@@@ pas du base64 @@@", "abc", "JVBERi0xLjcK\nJUVPRgo=", "JVBERi0-_w==", "é"],
)
def test_sign_rejects_malformed_base64(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, pdf_b64: str
) -> None:
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, pdf, pdf_b64=pdf_b64))

    assert_french_error(response, 400, "base64_invalide")
    assert row_counts(runtime) == before == NOTHING


def _without(field: str) -> Callable[[dict[str, object]], dict[str, object]]:
    def change(body: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in body.items() if k != field}

    return change


def _with(
    field: str, value: object
) -> Callable[[dict[str, object]], dict[str, object]]:
    def change(body: dict[str, object]) -> dict[str, object]:
        return {**body, field: value}

    return change


@pytest.mark.parametrize(
    "change",
    [
        _without("code_09"),
        _without("nom_signataire"),
        _without("motif"),
        _without("pdf_b64"),
        _with("champ_inconnu", "x"),
        _with("code_09", 9),
        _with("nom_signataire", None),
        _with("motif", ["Attestation"]),
        _with("motif", ""),
        _with("motif", "x" * 501),
        _with("pdf_b64", 12345),
        _with("pdf_b64", {"donnees": "JVBERi0="}),
        _with("callback_url", "pas une adresse"),
        _with("callback_url", "ftp://atlanta.example.ci/rappel"),
        _with("callback_url", 42),
    ],
    ids=[
        "sans_code_09",
        "sans_nom_signataire",
        "sans_motif",
        "sans_pdf_b64",
        "champ_inconnu",
        "code_09_nombre",
        "nom_signataire_null",
        "motif_liste",
        "motif_vide",
        "motif_trop_long",
        "pdf_b64_nombre",
        "pdf_b64_objet",
        "callback_url_invalide",
        "callback_url_ftp",
        "callback_url_nombre",
    ],
)
def test_sign_rejects_invalid_field(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    change: Callable[[dict[str, object]], dict[str, object]],
) -> None:
    before = row_counts(runtime)

    response = post_sign(api, atlanta, change(sign_body(atlanta, pdf)))

    assert_french_error(response, 422, "champ_invalide")
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "niveau", ["B-LTX", "b-lt", "PAdES-B-LT", "", "LTA", 3, ["B-LT"]]
)
def test_sign_rejects_unknown_level(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, niveau: Any
) -> None:
    before = row_counts(runtime)
    body = sign_body(atlanta, pdf, niveau=niveau)

    response = post_sign(api, atlanta, body)

    assert_french_error(response, 422, "champ_invalide")
    assert "B-B, B-T, B-LT, B-LTA" in response.json()["erreur"]["message"]
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "motif", ["\x00", "\x00Attestation", "Attestation\x00", "Attes\x00tation"]
)
def test_sign_rejects_nul_character_in_motif(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, motif: str
) -> None:
    # PostgreSQL cannot store NUL in text: it must be a 422 there as on SQLite.
    before = row_counts(runtime)
    headers = {**atlanta.headers, "Idempotency-Key": "motif-nul-0001"}

    response = api.post(
        SIGN, headers=headers, json=sign_body(atlanta, pdf, motif=motif)
    )

    assert_french_error(response, 422, "champ_invalide")
    assert "motif" in response.json()["erreur"]["message"]
    assert row_counts(runtime) == before == NOTHING


# --- The API key --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"X-Identity-API-Key": ""}, {"X-Identity-API-Key": "   "}]
)
def test_sign_without_api_key_is_refused(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    headers: dict[str, str],
) -> None:
    before = row_counts(runtime)

    response = api.post(SIGN, headers=headers, json=sign_body(atlanta, pdf))

    assert_french_error(response, 401, "cle_api_manquante")
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "secret",
    [
        "psk_000000000000_inconnue",
        "x" * 500,
        "psk_presque_bonne_clé",
    ],
)
def test_sign_with_unknown_api_key_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, secret: str
) -> None:
    before = row_counts(runtime)

    response = api.post(
        SIGN,
        headers={"X-Identity-API-Key": secret.encode()},
        json=sign_body(atlanta, pdf),
    )

    assert_french_error(response, 401, "cle_api_invalide")
    assert row_counts(runtime) == before == NOTHING


def test_sign_with_other_key_of_right_length_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    before = row_counts(runtime)
    forged = atlanta.api_key[:-4] + (
        "AAAA" if atlanta.api_key[-4:] != "AAAA" else "BBBB"
    )

    response = api.post(
        SIGN, headers={"X-Identity-API-Key": forged}, json=sign_body(atlanta, pdf)
    )

    assert_french_error(response, 401, "cle_api_invalide")
    assert row_counts(runtime) == before == NOTHING


def test_sign_with_revoked_api_key_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    with runtime.db.transaction() as session:
        revoke_api_key(session, atlanta.api_key_id, by=Actor.operator())
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, pdf))

    assert_french_error(response, 401, "cle_api_invalide")
    assert row_counts(runtime) == before == NOTHING


# --- The identity -------------------------------------------------------------


def test_sign_with_identity_of_another_client_is_forbidden(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    other = provision(
        runtime, name="Banque Lagune", label="Banque Lagune – guichet", body="LAGUNEBQ"
    )
    before = row_counts(runtime)

    # Atlanta's key, the other client's identity and its exact label.
    response = api.post(
        SIGN,
        headers=atlanta.headers,
        json=sign_body(atlanta, pdf, code_09=other.code_09, nom_signataire=other.label),
    )

    assert_french_error(response, 403, "identite_non_autorisee")
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "name",
    [
        "Atlanta Assurances",
        "ATLANTA ASSURANCES – SYSTÈME DE PRODUCTION",
        "Atlanta Assurances - système de production",  # hyphen, not en dash
        "Autre société",
    ],
)
def test_sign_with_wrong_signer_name_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, name: str
) -> None:
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, pdf, nom_signataire=name))

    assert_french_error(response, 422, "nom_signataire_incorrect")
    assert atlanta.label in response.json()["erreur"]["message"]
    assert row_counts(runtime) == before == NOTHING


def test_sign_with_unknown_identity_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    unknown = str(make_code("09S", "INCONNUSYS"))
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, pdf, code_09=unknown))

    assert_french_error(response, 422, "identite_inconnue")
    assert row_counts(runtime) == before == NOTHING


@pytest.mark.parametrize(
    "code",
    [
        "09S-ATLANTASYS-Y",  # mistyped check character
        "09S-ATLANTSAYS-X",  # adjacent transposition
        "09S-atlantasys-x",
        "09S-ATLANTASYS",
        "ATLANTASYS",
        "09X-ATLANTASYS-X",
        "09S-ATL-X",
        "",
    ],
)
def test_sign_with_malformed_code_09_is_refused(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes, code: str
) -> None:
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, pdf, code_09=code))

    assert_french_error(response, 422, "code_09_invalide")
    assert row_counts(runtime) == before == NOTHING


# --- The PDF ------------------------------------------------------------------


def _empty(real: bytes, tmp_path: Path) -> bytes:
    return b""


def _not_a_pdf(real: bytes, tmp_path: Path) -> bytes:
    return b"Ceci est un fichier texte, pas un PDF.\n" * 10


def _png(real: bytes, tmp_path: Path) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(512)


def _first_half(real: bytes, tmp_path: Path) -> bytes:
    return real[: len(real) // 2]


def _without_end_marker(real: bytes, tmp_path: Path) -> bytes:
    return real[: real.rindex(b"%%EOF")]


def _first_half_of_large(real: bytes, tmp_path: Path) -> bytes:
    big = large_pdf(20_000)
    return big[: len(big) // 2]


def _garbage_body(real: bytes, tmp_path: Path) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(4000) + b"\n%%EOF\n"


def _header_and_end_only(real: bytes, tmp_path: Path) -> bytes:
    return b"%PDF-1.7\n%%EOF\n"


def _bad_startxref(real: bytes, tmp_path: Path) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(500) + b"\nstartxref\n999999\n%%EOF\n"


def _encrypted(real: bytes, tmp_path: Path) -> bytes:
    return encrypted_pdf(tmp_path)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_empty, "pdf_vide"),
        (_not_a_pdf, "pdf_invalide"),
        (_png, "pdf_invalide"),
        (_first_half, "pdf_tronque"),
        (_without_end_marker, "pdf_tronque"),
        (_first_half_of_large, "pdf_tronque"),
        (_garbage_body, "pdf_invalide"),
        (_header_and_end_only, "pdf_invalide"),
        (_bad_startxref, "pdf_invalide"),
        (_encrypted, "pdf_chiffre"),
    ],
    ids=lambda value: getattr(value, "__name__", value).lstrip("_"),
)
def test_sign_rejects_unsignable_pdf(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    tmp_path: Path,
    make: Callable[[bytes, Path], bytes],
    code: str,
) -> None:
    before = row_counts(runtime)

    response = post_sign(api, atlanta, sign_body(atlanta, make(pdf, tmp_path)))

    assert_french_error(response, 422, code)
    assert row_counts(runtime) == before == NOTHING


# --- Sizes --------------------------------------------------------------------


def test_sign_rejects_body_over_limit_with_content_length(
    small_limits: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    body = sign_body(atlanta, large_pdf(4096))
    before = row_counts(runtime)

    response = post_sign(small_limits, atlanta, body)

    assert_french_error(response, 413, "corps_trop_volumineux")
    assert "4096" in response.json()["erreur"]["message"]
    assert response.headers["x-request-id"].startswith("req_")
    assert row_counts(runtime) == before == NOTHING
    # The limit is on size, not on signing: a small body still passes.
    assert post_sign(small_limits, atlanta, sign_body(atlanta, pdf)).status_code == 200


def test_sign_rejects_chunked_body_over_limit(
    small_limits: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    raw = json.dumps(sign_body(atlanta, large_pdf(4096))).encode()
    before = row_counts(runtime)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 1000):
            yield raw[start : start + 1000]

    response = small_limits.post(
        SIGN,
        headers={**atlanta.headers, "Content-Type": "application/json"},
        content=chunks(),
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_french_error(response, 413, "corps_trop_volumineux")
    assert row_counts(runtime) == before == NOTHING


def test_sign_rejects_streamed_body_over_limit_across_messages(
    small_limits: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    """Many small ASGI messages, none over the limit, add up to a body over it."""
    raw = json.dumps(sign_body(atlanta, large_pdf(4096))).encode()
    pieces = [raw[i : i + 512] for i in range(0, len(raw), 512)]
    app = small_limits.app
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        queue = list(pieces)

        async def receive() -> dict[str, Any]:
            if queue:
                piece = queue.pop(0)
                return {"type": "http.request", "body": piece, "more_body": bool(queue)}
            await asyncio.sleep(3600)  # the client waits for the answer
            return {"type": "http.disconnect"}  # pragma: no cover

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": SIGN,
            "raw_path": SIGN.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                (b"transfer-encoding", b"chunked"),
                (b"x-identity-api-key", atlanta.api_key.encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=30)  # type: ignore[arg-type]

    before = row_counts(runtime)
    asyncio.run(run())

    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    assert start["status"] == 413
    assert json.loads(body)["erreur"]["code"] == "corps_trop_volumineux"
    assert row_counts(runtime) == before == NOTHING


def test_sign_rejects_decoded_pdf_over_limit(
    small_limits: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    # Under the 4096-byte body limit once encoded, over the 2048-byte PDF limit.
    big = large_pdf(1200)
    assert len(big) > 2048
    body = sign_body(atlanta, big)
    assert len(json.dumps(body)) < 4096
    before = row_counts(runtime)

    response = post_sign(small_limits, atlanta, body)

    assert_french_error(response, 413, "pdf_trop_volumineux")
    assert "2048" in response.json()["erreur"]["message"]
    assert row_counts(runtime) == before == NOTHING


# --- Outside the signing route -----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nulle-part"),
        ("POST", "/api/v1/sceau/b2b/signer/de-trop"),
        ("GET", "/api/v1/sceau/b2b/inexistant"),
    ],
)
def test_request_to_unknown_path_answers_json_error(
    api: TestClient, atlanta: Provisioned, method: str, path: str
) -> None:
    response = api.request(method, path, headers=atlanta.headers)

    assert_french_error(response, 404, "ressource_introuvable")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_sign_without_json_content_type_is_refused(
    api: TestClient,
    runtime: Runtime,
    atlanta: Provisioned,
    pdf: bytes,
    content_type: str | None,
) -> None:
    headers = dict(atlanta.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = api.post(
        SIGN, headers=headers, content=json.dumps(sign_body(atlanta, pdf)).encode()
    )

    assert_french_error(response, 415, "type_contenu_invalide")
    assert "application/json" in response.json()["erreur"]["message"]
    assert row_counts(runtime) == NOTHING


def test_sign_with_json_charset_is_accepted(
    api: TestClient, atlanta: Provisioned, pdf: bytes
) -> None:
    response = api.post(
        SIGN,
        headers={**atlanta.headers, "Content-Type": "application/json; charset=utf-8"},
        content=json.dumps(sign_body(atlanta, pdf)).encode(),
    )

    assert response.status_code == 200, response.text


def test_sign_with_malformed_idempotency_key_and_bad_body_names_the_key(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    response = api.post(
        SIGN,
        headers={**atlanta.headers, "Idempotency-Key": "deux mots"},
        json={"code_09": 42},
    )

    assert_french_error(response, 400, "cle_idempotence_invalide")
    assert row_counts(runtime) == NOTHING
