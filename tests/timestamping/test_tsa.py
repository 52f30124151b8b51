"""The embedded TSA and the external fallback, checked against real tools.

Tokens are verified by ``openssl ts`` (an independent RFC 3161 implementation)
and by pyHanko's own validator; the fallback client talks to real HTTP servers
on the loopback interface.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import re
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from sceau.timestamping.external import FallbackHTTPTimeStamper, TimestampUnavailable
from sceau.timestamping.tsa import (
    DEFAULT_POLICY_OID,
    EmbeddedTimeStamper,
    TimestampAuthority,
    TimeStampResponse,
    TsaPrivateKey,
)

FIXED_NOW = datetime(2031, 5, 17, 9, 30, 12, 654321, tzinfo=UTC)


@dataclass
class Pki:
    key_type: str
    directory: Path
    root: x509.Certificate
    issuing_ca: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: TsaPrivateKey
    # Trust anchor, intermediates, TSA certificate + intermediates.
    root_pem: Path
    chain_pem: Path
    tsa_pem: Path

    def authority(self, **kwargs: object) -> TimestampAuthority:
        return TimestampAuthority(
            self.tsa_cert,
            self.tsa_key,
            [self.issuing_ca, self.root],
            **kwargs,  # type: ignore[arg-type]
        )


def _new_key(key_type: str) -> TsaPrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pixel Sceau tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: TsaPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: TsaPrivateKey,
    *,
    ca: bool,
    eku_critical: bool = True,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 10))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )

    if ca:
        usage = {"key_cert_sign": True, "crl_sign": True}
    else:
        usage = {"digital_signature": True, "content_commitment": True}
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
            critical=eku_critical,
        )
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(usage)
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)

    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@pytest.fixture(scope="session", params=["rsa", "ec"])
def pki(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Pki:
    """Root CA -> issuing CA -> TSA, generated once per key type."""
    key_type: str = request.param
    directory = tmp_path_factory.mktemp(f"pki-{key_type}")

    root_key = _new_key(key_type)
    root = _certificate("Test Root CA", root_key, None, root_key, ca=True)
    ca_key = _new_key(key_type)
    issuing_ca = _certificate("Test Issuing CA", ca_key, root, root_key, ca=True)
    tsa_key = _new_key(key_type)
    tsa_cert = _certificate("Test TSA", tsa_key, issuing_ca, ca_key, ca=False)

    root_pem = directory / "root.pem"
    root_pem.write_bytes(_pem(root))
    chain_pem = directory / "chain.pem"
    chain_pem.write_bytes(_pem(issuing_ca))
    tsa_pem = directory / "tsa.pem"
    tsa_pem.write_bytes(_pem(tsa_cert, issuing_ca))

    return Pki(
        key_type=key_type,
        directory=directory,
        root=root,
        issuing_ca=issuing_ca,
        tsa_cert=tsa_cert,
        tsa_key=tsa_key,
        root_pem=root_pem,
        chain_pem=chain_pem,
        tsa_pem=tsa_pem,
    )


@pytest.fixture
def authority(pki: Pki) -> TimestampAuthority:
    return pki.authority()


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "document.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    return path


def _openssl(*args: str | Path) -> str:
    result = subprocess.run(
        ["openssl", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _query(document: Path, out: Path, *options: str) -> bytes:
    _openssl("ts", "-query", "-data", document, "-out", out, *options)
    return out.read_bytes()


def _verify(document: Path, reply: Path, pki: Pki, untrusted: Path) -> str:
    return _openssl(
        "ts",
        "-verify",
        "-data",
        document,
        "-in",
        reply,
        "-CAfile",
        pki.root_pem,
        "-untrusted",
        untrusted,
    )


def _nonce_line(text: str) -> str:
    match = re.search(r"^Nonce: (.+)$", text, re.MULTILINE)
    assert match, text
    return match.group(1).strip()


def _request(
    digest: bytes,
    algorithm: str = "sha256",
    *,
    policy: str | None = None,
    nonce: int | None = 12345,
    cert_req: bool = True,
) -> bytes:
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": digest,
        },
        "cert_req": cert_req,
    }
    if policy is not None:
        fields["req_policy"] = policy
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TimeStampReq(fields).dump()


def _tst_info(response: TimeStampResponse) -> tsp.TSTInfo:
    token = response["time_stamp_token"]
    tst_info: tsp.TSTInfo = token["content"]["encap_content_info"]["content"].parsed
    return tst_info


# --- granted tokens, checked by OpenSSL -----------------------------------------


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
def test_token_with_certificates_verifies_with_openssl(
    pki: Pki, authority: TimestampAuthority, document: Path, digest: str
) -> None:
    request = _query(document, pki.directory / f"{digest}.tsq", f"-{digest}", "-cert")
    reply = pki.directory / f"{digest}.tsr"
    reply.write_bytes(authority.respond(request))

    assert "Verification: OK" in _verify(document, reply, pki, pki.chain_pem)

    reply_text = _openssl("ts", "-reply", "-in", reply, "-text")
    request_text = _openssl("ts", "-query", "-in", reply.with_suffix(".tsq"), "-text")
    assert f"Policy OID: {DEFAULT_POLICY_OID}" in reply_text
    assert "Status: Granted." in reply_text
    assert "Accuracy: 0x01 seconds" in reply_text
    assert "Ordering: no" in reply_text
    assert "CN=Test TSA" in reply_text
    assert _nonce_line(reply_text) == _nonce_line(request_text)
    assert _nonce_line(reply_text) != "unspecified"


def test_token_without_cert_req_or_nonce_verifies_with_openssl(
    pki: Pki, authority: TimestampAuthority, document: Path
) -> None:
    request = _query(document, pki.directory / "bare.tsq", "-sha256", "-no_nonce")
    reply = pki.directory / "bare.tsr"
    reply_der = authority.respond(request)
    reply.write_bytes(reply_der)

    signed_data = TimeStampResponse.load(reply_der)["time_stamp_token"]["content"]
    assert isinstance(signed_data["certificates"], core.Void)

    # The reply names no certificate, so the verifier must be handed the TSA's.
    assert "Verification: OK" in _verify(document, reply, pki, pki.tsa_pem)

    reply_text = _openssl("ts", "-reply", "-in", reply, "-text")
    assert _nonce_line(reply_text) == "unspecified"
    assert f"Policy OID: {DEFAULT_POLICY_OID}" in reply_text


def test_requested_policy_equal_to_ours_is_granted(
    pki: Pki, authority: TimestampAuthority, document: Path
) -> None:
    request = _query(
        document,
        pki.directory / "policy.tsq",
        "-sha256",
        "-cert",
        "-tspolicy",
        DEFAULT_POLICY_OID,
    )
    reply = pki.directory / "policy.tsr"
    reply.write_bytes(authority.respond(request))

    assert "Verification: OK" in _verify(document, reply, pki, pki.chain_pem)


def test_custom_policy_and_clock_are_used(pki: Pki, document: Path) -> None:
    policy = "1.3.6.1.4.1.99999.1.2"
    authority = pki.authority(policy_oid=policy, clock=lambda: FIXED_NOW)
    digest = hashlib.sha256(document.read_bytes()).digest()

    response = TimeStampResponse.load(authority.respond(_request(digest)))

    tst_info = _tst_info(response)
    assert tst_info["policy"].dotted == policy
    assert tst_info["gen_time"].native == FIXED_NOW.replace(microsecond=0)


# --- token structure -------------------------------------------------------------


def test_token_structure(pki: Pki) -> None:
    authority = pki.authority(clock=lambda: FIXED_NOW)
    digest = os.urandom(48)

    response = TimeStampResponse.load(
        authority.respond(_request(digest, "sha384", nonce=2**70 + 3))
    )

    assert response["status"]["status"].native == "granted"
    token = response["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    signed_data = token["content"]
    assert signed_data["version"].native == "v3"
    assert [a["algorithm"].native for a in signed_data["digest_algorithms"]] == [
        "sha256"
    ]
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    certificates = [c.chosen.dump() for c in signed_data["certificates"]]
    expected = [
        c.public_bytes(serialization.Encoding.DER)
        for c in (pki.tsa_cert, pki.issuing_ca, pki.root)
    ]
    assert sorted(certificates) == sorted(expected)

    tst_info = _tst_info(response)
    assert tst_info["version"].native == "v1"
    assert tst_info["policy"].dotted == DEFAULT_POLICY_OID
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha384"
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == 2**70 + 3
    assert tst_info["accuracy"]["seconds"].native == 1
    assert tst_info["ordering"].native is False
    assert tst_info["gen_time"].native == datetime(2031, 5, 17, 9, 30, 12, tzinfo=UTC)
    assert tst_info["serial_number"].native.bit_length() == 128
    tsa_name = tst_info["tsa"].chosen
    assert tsa_name.native["common_name"] == "Test TSA"

    signer_info = signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    expected_signature = "sha256_rsa" if pki.key_type == "rsa" else "sha256_ecdsa"
    assert signer_info["signature_algorithm"]["algorithm"].native == expected_signature
    sid = signer_info["sid"].chosen
    assert sid["serial_number"].native == pki.tsa_cert.serial_number

    attributes = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert set(attributes) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert attributes["content_type"].native == "tst_info"
    tst_info_der = signed_data["encap_content_info"]["content"].parsed.dump()
    assert attributes["message_digest"].native == hashlib.sha256(tst_info_der).digest()
    assert attributes["signing_time"].native == tst_info["gen_time"].native

    ess_cert_id = attributes["signing_certificate_v2"]["certs"][0]
    tsa_der = pki.tsa_cert.public_bytes(serialization.Encoding.DER)
    assert ess_cert_id["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess_cert_id["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert (
        ess_cert_id["issuer_serial"]["serial_number"].native
        == pki.tsa_cert.serial_number
    )


def test_serial_numbers_are_unique(authority: TimestampAuthority) -> None:
    request = _request(os.urandom(32))

    serials = {
        _tst_info(TimeStampResponse.load(authority.respond(request)))[
            "serial_number"
        ].native
        for _ in range(50)
    }

    assert len(serials) == 50


def test_token_size_is_stable(authority: TimestampAuthority, pki: Pki) -> None:
    # pyHanko reserves the signature placeholder from one dummy token, so what
    # the authority controls (the TSTInfo, serial included) must not vary.
    request = _request(os.urandom(32))

    responses = [TimeStampResponse.load(authority.respond(request)) for _ in range(30)]

    assert len({len(_tst_info(r).dump()) for r in responses}) == 1
    if pki.key_type == "rsa":
        # ECDSA's DER signature length varies by design; RSA's does not.
        assert len({len(r.dump()) for r in responses}) == 1


# --- rejections ------------------------------------------------------------------


def _assert_rejected(response_der: bytes, fail_info: str) -> None:
    response = TimeStampResponse.load(response_der)
    status = response["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {fail_info}
    assert status["status_string"].native
    assert isinstance(response["time_stamp_token"], core.Void)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"garbage, not DER at all",
        b"\x30\x80\x00\x00",
        b"\x30\xff\xff\xff\xff",
        core.Integer(42).dump(),
        TimeStampResponse({"status": {"status": "granted"}}).dump(),
        b"\x30" * 70_000,
    ],
)
def test_garbage_is_rejected_as_bad_data_format(
    authority: TimestampAuthority, garbage: bytes
) -> None:
    _assert_rejected(authority.respond(garbage), "bad_data_format")


def test_truncated_and_padded_requests_are_rejected(
    authority: TimestampAuthority,
) -> None:
    request = _request(os.urandom(32))

    _assert_rejected(authority.respond(request[:-1]), "bad_data_format")
    _assert_rejected(authority.respond(request + b"\x00"), "bad_data_format")


def test_md5_imprint_is_rejected(authority: TimestampAuthority) -> None:
    request = _request(hashlib.md5(b"doc").digest(), "md5")  # noqa: S324

    _assert_rejected(authority.respond(request), "bad_alg")


def test_sha1_imprint_is_rejected(authority: TimestampAuthority) -> None:
    request = _request(hashlib.sha1(b"doc").digest(), "sha1")  # noqa: S324

    _assert_rejected(authority.respond(request), "bad_alg")


@pytest.mark.parametrize(
    ("algorithm", "length"), [("sha256", 31), ("sha256", 48), ("sha512", 32)]
)
def test_wrong_imprint_length_is_rejected(
    authority: TimestampAuthority, algorithm: str, length: int
) -> None:
    request = _request(os.urandom(length), algorithm)

    _assert_rejected(authority.respond(request), "bad_data_format")


def test_unknown_policy_is_rejected(authority: TimestampAuthority) -> None:
    request = _request(os.urandom(32), policy="1.2.3.4.5")

    _assert_rejected(authority.respond(request), "unaccepted_policy")


def test_request_extensions_are_rejected(authority: TimestampAuthority) -> None:
    request = tsp.TimeStampReq.load(_request(os.urandom(32)))
    request["extensions"] = [
        {"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}
    ]

    _assert_rejected(authority.respond(request.dump()), "unaccepted_extensions")


def test_internal_failure_is_a_system_failure_rejection(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    # A naive clock is a server bug; the client still gets a protocol answer.
    authority = pki.authority(clock=lambda: datetime(2030, 1, 1))

    with caplog.at_level(logging.ERROR, logger="sceau.timestamping.tsa"):
        response = authority.respond(_request(os.urandom(32)))

    _assert_rejected(response, "system_failure")
    assert [r.getMessage() for r in caplog.records] == ["tsa.issue_failed"]


def test_mutated_requests_never_raise(authority: TimestampAuthority) -> None:
    rng = random.Random(3161)
    request = bytearray(_request(os.urandom(32)))

    for _ in range(500):
        mutated = bytearray(request)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)

        response = TimeStampResponse.load(authority.respond(bytes(mutated)))

        assert response["status"]["status"].native in {"granted", "rejection"}


# --- configuration ---------------------------------------------------------------


def test_mismatched_key_is_refused(pki: Pki) -> None:
    with pytest.raises(ValueError, match="does not match"):
        TimestampAuthority(pki.tsa_cert, _new_key(pki.key_type))


def test_certificate_without_critical_time_stamping_eku_is_refused(pki: Pki) -> None:
    key = _new_key(pki.key_type)
    cert = _certificate("Lax TSA", key, None, key, ca=False, eku_critical=False)

    with pytest.raises(ValueError, match="critical"):
        TimestampAuthority(cert, key)


def test_invalid_policy_oid_is_refused(pki: Pki) -> None:
    with pytest.raises(ValueError):
        pki.authority(policy_oid="not an oid")


# --- pyHanko adapter -------------------------------------------------------------


def _validation_context(pki: Pki) -> ValidationContext:
    root = asn1_x509.Certificate.load(pki.root.public_bytes(serialization.Encoding.DER))
    return ValidationContext(trust_roots=[root], allow_fetching=False)


def test_embedded_timestamper_token_validates_with_pyhanko(
    pki: Pki, authority: TimestampAuthority
) -> None:
    stamper = EmbeddedTimeStamper(authority)
    digest = hashlib.sha256(b"signature value").digest()

    async def scenario() -> tuple[cms.ContentInfo, list[object]]:
        token = await stamper.async_timestamp(digest, "sha256")
        paths = [p async for p in stamper.validation_paths(_validation_context(pki))]
        status = await validate_tst_signed_data(
            token["content"], _validation_context(pki), lambda _algorithm: digest
        )
        assert status["valid"] and status["intact"]
        assert status["trust_problem_indic"] is None
        return token, paths

    token, paths = asyncio.run(scenario())

    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert len(paths) == 1


def test_embedded_timestamper_surfaces_rejections(
    pki: Pki, authority: TimestampAuthority
) -> None:
    stamper = EmbeddedTimeStamper(authority)

    with pytest.raises(TimestampRequestError, match="bad_alg"):
        asyncio.run(stamper.async_timestamp(hashlib.sha1(b"x").digest(), "sha1"))  # noqa: S324


# --- external fallback over real HTTP --------------------------------------------


class _TsaHandler(BaseHTTPRequestHandler):
    authority: TimestampAuthority
    mode: str

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen_authorization.append(  # type: ignore[attr-defined]
            self.headers.get("Authorization")
        )

        if self.mode == "error":
            self._answer(500, "text/plain", b"internal error")
        elif self.mode == "garbage":
            self._answer(200, "application/timestamp-reply", b"\x30\x03garbage")
        elif self.mode == "html":
            self._answer(200, "text/html", self.authority.respond(body))
        elif self.mode == "wrong_nonce":
            # A granted token, but for another request: a replay must not pass.
            request = tsp.TimeStampReq.load(body)
            request["nonce"] = request["nonce"].native + 1
            reply = self.authority.respond(request.dump())
            self._answer(200, "application/timestamp-reply", reply)
        else:
            reply = self.authority.respond(body)
            self._answer(200, "application/timestamp-reply", reply)

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logging.getLogger(__name__).debug(format, *args)


@pytest.fixture
def tsa_server(
    authority: TimestampAuthority,
) -> Iterator[Callable[[str], tuple[str, ThreadingHTTPServer]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(mode: str) -> tuple[str, ThreadingHTTPServer]:
        handler = type(
            "Handler", (_TsaHandler,), {"authority": authority, "mode": mode}
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.seen_authorization = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}", server

    yield start

    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _stamp_and_verify(
    stamper: FallbackHTTPTimeStamper, document: Path, pki: Pki, tmp_path: Path
) -> None:
    digest = hashlib.sha256(document.read_bytes()).digest()

    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))

    token_path = tmp_path / "token.tst"
    token_path.write_bytes(token.dump())
    output = _openssl(
        "ts",
        "-verify",
        "-token_in",
        "-in",
        token_path,
        "-data",
        document,
        "-CAfile",
        pki.root_pem,
        "-untrusted",
        pki.chain_pem,
    )
    assert "Verification: OK" in output


def test_fallback_skips_a_closed_port(
    pki: Pki,
    tsa_server: Callable[[str], tuple[str, ThreadingHTTPServer]],
    closed_port: int,
    document: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live, server = tsa_server("ok")
    stamper = FallbackHTTPTimeStamper(
        [f"http://127.0.0.1:{closed_port}/tsa", f"http://tsa:pw@{live}/tsa"],
        timeout=5,
    )

    with caplog.at_level(logging.WARNING, logger="sceau.timestamping.external"):
        _stamp_and_verify(stamper, document, pki, tmp_path)

    failures = [r for r in caplog.records if r.getMessage() == "tsa.external_failed"]
    assert len(failures) == 1
    assert failures[0].__dict__["tsa_url"] == f"http://127.0.0.1:{closed_port}/tsa"
    # Credentials in the URL are used for basic auth, just never shown.
    assert server.seen_authorization == ["Basic dHNhOnB3"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad_mode", ["error", "garbage", "html", "wrong_nonce"])
def test_fallback_skips_a_misbehaving_server(
    pki: Pki,
    tsa_server: Callable[[str], tuple[str, ThreadingHTTPServer]],
    document: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bad_mode: str,
) -> None:
    bad, bad_server = tsa_server(bad_mode)
    live, _ = tsa_server("ok")
    stamper = FallbackHTTPTimeStamper([f"http://{bad}/", f"http://{live}/"])

    with caplog.at_level(logging.WARNING, logger="sceau.timestamping.external"):
        _stamp_and_verify(stamper, document, pki, tmp_path)

    assert len(bad_server.seen_authorization) == 1  # type: ignore[attr-defined]
    failures = [r for r in caplog.records if r.getMessage() == "tsa.external_failed"]
    assert [r.__dict__["tsa_url"] for r in failures] == [f"http://{bad}/"]


def test_all_failing_raises_without_leaking_credentials(
    tsa_server: Callable[[str], tuple[str, ThreadingHTTPServer]],
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    error, _ = tsa_server("error")
    garbage, _ = tsa_server("garbage")
    urls = [
        f"http://user:s3cret@127.0.0.1:{closed_port}/",
        f"http://user:s3cret@{error}/",
        f"https://user:s3cret@{garbage}/",  # TLS against a plain-HTTP server
        f"http://user:s3cret@{garbage}/",
    ]
    stamper = FallbackHTTPTimeStamper(urls, timeout=5)

    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(TimestampUnavailable) as raised,
    ):
        asyncio.run(stamper.async_timestamp(os.urandom(32), "sha256"))

    assert len(raised.value.reasons) == 4
    assert "HTTP status 500" in raised.value.reasons[1]
    assert "not a DER TimeStampResp" in raised.value.reasons[3]
    assert "s3cret" not in str(raised.value)
    assert "s3cret" not in repr(raised.value.args)
    assert "s3cret" not in caplog.text
    for record in caplog.records:
        assert "s3cret" not in repr(vars(record))
    assert f"http://127.0.0.1:{closed_port}/" in str(raised.value)
    assert "s3cret" not in " ".join(stamper.urls)


def test_fallback_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        FallbackHTTPTimeStamper(["ftp://user:s3cret@example.org/"])

    with pytest.raises(ValueError):
        FallbackHTTPTimeStamper([])


def test_slow_server_times_out() -> None:
    # A listening socket that never answers: the per-attempt deadline must fire.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        stamper = FallbackHTTPTimeStamper([f"http://127.0.0.1:{port}/"], timeout=0.5)

        with pytest.raises(TimestampUnavailable, match=r"within 0\.5 s|Timeout"):
            asyncio.run(stamper.async_timestamp(os.urandom(32), "sha256"))
