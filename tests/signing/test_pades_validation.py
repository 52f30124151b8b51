"""What the API signs, judged by validators nobody here wrote: poppler's pdfsig
on NSS, qpdf, OpenSSL's RFC 3161 verifier, and pyHanko's own validation, both
the classic one and the ETSI EN 319 102-1 (AdES) processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.ades import (
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer

from sceau.runtime import Runtime
from tests.conftest import LABEL, Provisioned, provision, sign_body
from tests.support.pdfs import large_pdf, one_page_pdf
from tests.support.validators import (
    nss_db,
    openssl,
    openssl_ts_verify,
    pdfsig,
    pdfsig_signatures,
    qpdf_check,
)

SIGN_URL = "/api/v1/sceau/b2b/signer"
MOTIF = "Attestation de garantie n° 2026-04231"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
ALGORITHMS = ("rsa3072", "ecdsa-p256")

# What is judged here is the signed bytes, which the database does not shape;
# one backend keeps the matrix within budget (storage is tested on both
# elsewhere, e.g. tests/timestamping/test_external_tsa.py).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class PublishedPki:
    """What a relying party downloads from ``/pki/…``."""

    root_pem: bytes
    issuing_pem: bytes
    root: asn1_x509.Certificate
    crls: list[asn1_crl.CertificateList]


@pytest.fixture
def published(api: TestClient) -> PublishedPki:
    root_pem = api.get("/pki/root.crt").content
    issuing = x509.load_der_x509_certificate(api.get("/pki/issuing.crt").content)
    crls = [
        asn1_crl.CertificateList.load(api.get(f"/pki/{name}.crl").content)
        for name in ("root", "issuing")
    ]
    return PublishedPki(
        root_pem=root_pem,
        issuing_pem=issuing.public_bytes(serialization.Encoding.PEM),
        root=asn1_x509.Certificate.load(pem.unarmor(root_pem)[2]),
        crls=crls,
    )


@pytest.fixture
def nssdb(tmp_path: Path, published: PublishedPki) -> Path:
    return nss_db(tmp_path, published.root_pem)


def _sign(api: TestClient, identity: Provisioned, pdf: bytes, level: str) -> bytes:
    response = api.post(
        SIGN_URL,
        headers=identity.headers,
        json=sign_body(identity, pdf, motif=MOTIF, niveau=level),
    )
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["pdf_signe_b64"])


def _write(tmp_path: Path, pdf: bytes, name: str = "signe.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(pdf))


def _context(
    root: asn1_x509.Certificate,
    crls: list[asn1_crl.CertificateList],
    certs: list[asn1_x509.Certificate] | None = None,
) -> ValidationContext:
    # hard-fail: a chain whose revocation status is unknown is not trusted, so
    # a pass proves the CRLs given here cover every certificate of the path.
    return ValidationContext(
        trust_roots=[root],
        other_certs=certs or [],
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
    )


def _offline_spec(
    root: asn1_x509.Certificate, knowledge: LocalKnowledge | None = None
) -> SignatureValidationSpec:
    """An AdES spec that requires revocation data and may fetch nothing."""
    return SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[root]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
            certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
        ),
        local_knowledge=knowledge or LocalKnowledge(),
    )


def _dss_knowledge(reader: PdfFileReader) -> LocalKnowledge:
    dss = DocumentSecurityStore.read_dss(reader)
    return LocalKnowledge(
        known_crls=[
            CRLContainer(asn1_crl.CertificateList.load(ref.get_object().data))
            for ref in dss.crls
        ],
        known_certs=list(dss.load_certs()),
    )


def _with_time_validation(
    signature: EmbeddedPdfSignature, spec: SignatureValidationSpec
) -> tuple[object, PdfSignatureStatus]:
    """ETSI EN 319 102-1 §5.5 (validation with time), the process for B-T/B-LT."""
    signature.compute_integrity_info()
    result = asyncio.run(
        ades_with_time_validation(
            signature.signed_data,
            spec,
            raw_digest=signature.compute_digest(),
            extra_status_kwargs=signature.summarise_integrity_info(),
            status_cls=PdfSignatureStatus,
        )
    )
    status = result.api_status
    assert isinstance(status, PdfSignatureStatus)
    return result.ades_subindic, status


def _assert_pdfsig_valid(block: dict[str, str], common_name: str) -> None:
    assert block["Signature Validation"] == "Signature is Valid.", block
    assert block["Certificate Validation"] == "Certificate is Trusted.", block
    assert block["Signer Certificate Common Name"] == common_name
    assert block["Signature Type"] == "ETSI.CAdES.detached"


def _assert_qpdf_clean(path: Path) -> None:
    result = qpdf_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


# -- one check per validator -------------------------------------------------


def _check_pdfsig(path: Path, nssdb: Path, label: str, level: str) -> None:
    output = pdfsig(path, nssdb)
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    blocks = pdfsig_signatures(output)
    _assert_pdfsig_valid(blocks[0], label)
    if level == "B-LTA":
        # The document timestamp, which poppler 22.12 lists ("Signature Type:
        # unknown") but cannot verify; openssl does, in _check_document_timestamp.
        assert len(blocks) == 2
        assert blocks[1]["Signer Certificate Common Name"] == "Pixel Sceau TSA"
    else:
        assert len(blocks) == 1


def _check_pyhanko(
    signature: EmbeddedPdfSignature, published: PublishedPki, level: str
) -> None:
    status = validate_pdf_signature(
        signature,
        _context(published.root, published.crls),
        ts_validation_context=_context(published.root, published.crls),
    )
    assert status.intact and status.valid and status.trusted, (
        status.pretty_print_details()
    )
    assert status.bottom_line
    assert signature.sig_object["/Reason"] == MOTIF
    if level == "B-B":
        assert status.timestamp_validity is None
    else:
        stamp = status.timestamp_validity
        assert stamp is not None, "B-T and above carry a signature timestamp"
        assert stamp.intact and stamp.valid and stamp.trusted


def _check_signing_certificate(
    signature: EmbeddedPdfSignature,
    identity: Provisioned,
    public_base_url: str,
    algorithm: str,
) -> None:
    certificate = x509.load_der_x509_certificate(signature.signer_cert.dump())

    def subject(oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in certificate.subject.get_attributes_for_oid(oid)]

    assert subject(NameOID.ORGANIZATION_NAME) == ["Atlanta Assurances"]
    assert subject(NameOID.COMMON_NAME) == [LABEL] == [identity.label]
    assert subject(NameOID.SERIAL_NUMBER) == ["09S-ATLANTASYS-X"] == [identity.code_09]
    points = certificate.extensions.get_extension_for_class(
        x509.CRLDistributionPoints
    ).value
    assert [name.value for point in points for name in point.full_name or []] == [
        f"{public_base_url}/pki/issuing.crl"
    ]
    key = certificate.public_key()
    if algorithm == "rsa3072":
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == "secp256r1"


def _check_long_term(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    published: PublishedPki,
    level: str,
) -> None:
    """B-LT and B-LTA validate from what the PDF holds: no CRL is given."""
    dss = reader.root["/DSS"]
    assert "/CRLs" in dss
    knowledge = _dss_knowledge(reader)
    issuers = {
        crl.crl_data["tbs_cert_list"]["issuer"].native["common_name"]
        for crl in knowledge.known_crls
    }
    assert issuers == {"Pixel Sceau Root CA", "Pixel Sceau Issuing CA"}

    # Classic validation fed with nothing but the DSS's CRLs and certificates.
    dss_crls = [crl.crl_data for crl in knowledge.known_crls]
    status = validate_pdf_signature(
        signature,
        _context(published.root, dss_crls, knowledge.known_certs),
        ts_validation_context=_context(published.root, dss_crls, knowledge.known_certs),
    )
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted

    # pyHanko 0.38 has no validate_pdf_ltv_signature any more; its successors
    # are the AdES processes of ETSI EN 319 102-1.
    if level == "B-LT":
        # §5.5, validation with time, from the DSS.
        indication, ades_status = _with_time_validation(
            signature, _offline_spec(published.root, knowledge)
        )
        assert indication == AdESPassed.OK
        assert ades_status.bottom_line
    else:
        # §5.6.3 reads the DSS and the document timestamps by itself.
        result = asyncio.run(
            ades_lta_validation(
                signature, PdfSignatureValidationSpec(_offline_spec(published.root))
            )
        )
        assert result.ades_subindic == AdESPassed.OK, result.failure_msg
        assert result.oldest_evidence_record_timestamp is not None
        assert result.signature_timestamp_status is not None
        assert result.signature_timestamp_status.ades_subindic == AdESPassed.OK


def _check_document_timestamp(
    signed: bytes, reader: PdfFileReader, published: PublishedPki, tmp_path: Path
) -> None:
    """The B-LTA document timestamp, verified by ``openssl ts`` over the
    digest of its byte range."""
    timestamp = reader.embedded_signatures[-1].sig_object
    assert timestamp["/Type"] == "/DocTimeStamp"
    assert timestamp["/SubFilter"] == "/ETSI.RFC3161"

    ranges = [int(n) for n in timestamp["/ByteRange"]]
    assert ranges[0] == 0
    assert signed[ranges[1] : ranges[1] + 1] == b"<"
    assert signed[ranges[2] - 1 : ranges[2]] == b">"
    digest = hashlib.sha256()
    for start, length in zip(ranges[::2], ranges[1::2], strict=True):
        digest.update(signed[start : start + length])

    result = openssl_ts_verify(
        _write(tmp_path, bytes(timestamp["/Contents"]), "horodatage.tst"),
        ca_file=_write(tmp_path, published.root_pem, "root.pem"),
        untrusted=_write(tmp_path, published.issuing_pem, "chain.pem"),
        digest_hex=digest.hexdigest(),
        token_in=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout


def _check_cms_certificates(signature: EmbeddedPdfSignature, tmp_path: Path) -> None:
    """The CMS carries the signer and its chain, each certificate once."""
    contents = _write(tmp_path, bytes(signature.sig_object["/Contents"]), "sig.p7s")
    result = openssl("pkcs7", "-inform", "DER", "-in", contents, "-print_certs")
    assert result.returncode == 0, result.stderr
    subjects = [
        line for line in result.stdout.splitlines() if line.startswith("subject=")
    ]
    assert len(subjects) == len(set(subjects)) == 3, subjects
    assert any("CN = Pixel Sceau Root CA" in line for line in subjects)
    assert any("CN = Pixel Sceau Issuing CA" in line for line in subjects)


# -- every level, both key types ---------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("level", LEVELS)
def test_signature_at_level_passes_independent_validators(
    runtime: Runtime,
    api: TestClient,
    published: PublishedPki,
    nssdb: Path,
    tmp_path: Path,
    level: str,
    algorithm: str,
) -> None:
    identity = provision(runtime, algorithm=algorithm)
    signed = _sign(api, identity, one_page_pdf(), level)
    path = _write(tmp_path, signed)
    reader = _reader(signed)
    [signature] = reader.embedded_regular_signatures

    _check_pdfsig(path, nssdb, identity.label, level)
    _assert_qpdf_clean(path)
    _check_pyhanko(signature, published, level)
    _check_cms_certificates(signature, tmp_path)
    _check_signing_certificate(
        signature, identity, runtime.settings.public_base_url, algorithm
    )
    assert ("/DSS" in reader.root) == (level in ("B-LT", "B-LTA"))
    assert len(reader.embedded_timestamp_signatures) == (1 if level == "B-LTA" else 0)
    if level in ("B-LT", "B-LTA"):
        _check_long_term(reader, signature, published, level)
    if level == "B-LTA":
        _check_document_timestamp(signed, reader, published, tmp_path)


def test_timestamp_only_signature_cannot_be_validated_offline(
    runtime: Runtime, api: TestClient, published: PublishedPki
) -> None:
    """The control for _check_long_term: without a DSS, the same offline
    validation has no revocation data and cannot conclude."""
    identity = provision(runtime, algorithm="ecdsa-p256")
    signed = _sign(api, identity, one_page_pdf(), "B-T")
    [signature] = _reader(signed).embedded_regular_signatures

    indication, status = _with_time_validation(signature, _offline_spec(published.root))

    assert indication != AdESPassed.OK
    assert not status.trusted


# -- sizes and successive signatures -------------------------------------------


def test_large_pdf_signed_at_b_lt_is_valid_for_pdfsig(
    api: TestClient, atlanta: Provisioned, nssdb: Path, tmp_path: Path
) -> None:
    source = large_pdf(5 * 1024 * 1024)
    signed = _sign(api, atlanta, source, "B-LT")
    path = _write(tmp_path, signed)

    [block] = pdfsig_signatures(pdfsig(path, nssdb))

    _assert_pdfsig_valid(block, atlanta.label)
    assert len(signed) > len(source) >= 5 * 1024 * 1024
    _assert_qpdf_clean(path)


def test_signing_a_signed_pdf_keeps_the_first_signature_valid(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    published: PublishedPki,
    nssdb: Path,
    tmp_path: Path,
) -> None:
    # A second party countersigns. (With the *same* certificate twice, poppler
    # 22.12 reports the second one as "Unknown issue with Certificate or
    # corrupted data": it reads PORT_GetError() after CERT_PKIXVerifyCert
    # without checking its result, and stock pyHanko output shows it too.)
    countersigner = provision(
        runtime,
        name="Sanlam Côte d'Ivoire",
        label="Sanlam – service contentieux",
        body=None,
        algorithm="ecdsa-p256",
    )
    first = _sign(api, atlanta, one_page_pdf(), "B-LT")
    second = _sign(api, countersigner, first, "B-LT")
    path = _write(tmp_path, second)

    blocks = pdfsig_signatures(pdfsig(path, nssdb))

    assert len(blocks) == 2
    _assert_pdfsig_valid(blocks[0], atlanta.label)
    _assert_pdfsig_valid(blocks[1], countersigner.label)
    assert second.startswith(first), "the second signature is an incremental update"
    _assert_qpdf_clean(path)
    signatures = _reader(second).embedded_regular_signatures
    assert len(signatures) == 2
    for signature in signatures:
        status = validate_pdf_signature(
            signature,
            _context(published.root, published.crls),
            ts_validation_context=_context(published.root, published.crls),
        )
        assert status.bottom_line, status.pretty_print_details()
        assert status.docmdp_ok
