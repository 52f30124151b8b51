"""The service's own RFC 3161 time-stamping authority.

Every signature the service produces carries a timestamp token; issuing it
in-process avoids a network round trip and a dependency on a third party. The
authority answers DER ``TimeStampReq`` bytes with DER ``TimeStampResp`` bytes, so
the same object can sit behind an HTTP endpoint or behind pyHanko's
``TimeStamper`` interface (``EmbeddedTimeStamper``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from sceau.hsm.errors import HsmUnavailable
from sceau.pki.keystore import ExternalKey
from sceau.pki.signatures import is_rsa, sign
from sceau.timestamping.probe import ThreadSafeProbe

logger = logging.getLogger(__name__)

# A 2.25 OID is derived from a UUID, so it needs no registration with anyone and
# cannot collide with another organisation's policy.
DEFAULT_POLICY_OID = "2.25.167768183116478584167943577161001809216"

# A key in memory, or one in a PKCS#11 token (``ExternalKey``).
TsaPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ExternalKey
Clock = Callable[[], datetime]

# Weaker digests would let a client obtain a token for a colliding document.
_IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}

# A genuine request is a few hundred bytes; refusing big blobs up front keeps a
# hostile client from making the parser chew on megabytes.
MAX_REQUEST_SIZE = 64 * 1024

# The top bit is forced so every serial encodes to the same length: pyHanko sizes
# the signature placeholder from a dummy token, and a token that later turns out
# longer would not fit.
_SERIAL_BITS = 128

# signing_time is a CMS Time, which RFC 5652 requires as UTCTime up to 2049.
_UTC_TIME_LAST_YEAR = 2049


class TimeStampResponse(tsp.TimeStampResp):
    """``TimeStampResp`` whose token is optional, as RFC 3161 §2.4.2 has it.

    asn1crypto 1.5 declares the token mandatory, so it can neither build nor read
    a rejection; this subclass does both and is still a ``tsp.TimeStampResp`` for
    pyHanko.
    """

    _fields: ClassVar[list[tuple[object, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class _RequestRejected(Exception):
    """A request the authority refuses; carries the RFC 3161 failInfo bit."""

    def __init__(self, fail_info: str, status_text: str) -> None:
        super().__init__(status_text)
        self.fail_info = fail_info
        self.status_text = status_text


@dataclass(frozen=True, slots=True)
class _AcceptedRequest:
    message_imprint_der: bytes
    nonce: int | None
    cert_req: bool


def _default_clock() -> datetime:
    return datetime.now(UTC)


def _check_tsa_certificate(certificate: x509.Certificate) -> None:
    # RFC 3161 §2.3: a TSA certificate carries exactly one, critical, EKU with
    # only id-kp-timeStamping. Verifiers (OpenSSL, pyHanko) reject tokens from
    # anything else, so a misconfigured certificate must fail at start-up rather
    # than on the first signature.
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise ValueError(
            "TSA certificate lacks the extended key usage extension"
        ) from None

    if not eku.critical:
        raise ValueError("TSA certificate extended key usage must be critical")

    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ValueError("TSA certificate extended key usage must be timeStamping only")


def _to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def _new_serial_number() -> int:
    return secrets.randbits(_SERIAL_BITS - 1) | (1 << (_SERIAL_BITS - 1))


def _cms_time(moment: datetime) -> cms.Time:
    if moment.year <= _UTC_TIME_LAST_YEAR:
        return cms.Time({"utc_time": moment})
    return cms.Time({"generalized_time": moment})


class TimestampAuthority:
    """An RFC 3161 TSA that signs with a key held in memory or in a token.

    Everything derived from the certificates is computed here once, because
    ``respond`` runs inside every signature the service makes.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: TsaPrivateKey,
        chain: Sequence[x509.Certificate] = (),
        policy_oid: str = DEFAULT_POLICY_OID,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(
            private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ExternalKey
        ):
            raise TypeError("TSA private key must be an RSA or EC private key")

        if private_key.public_key() != certificate.public_key():
            raise ValueError("TSA private key does not match the TSA certificate")

        _check_tsa_certificate(certificate)

        # Round-tripping through DER rejects malformed dotted strings now, not
        # when the first token is built.
        self._policy_oid = core.ObjectIdentifier.load(
            core.ObjectIdentifier(policy_oid).dump()
        ).dotted
        self._certificate = certificate
        self._private_key = private_key
        self._clock = clock or _default_clock

        self._prepare_asn1(certificate, list(chain))

    def _prepare_asn1(
        self, certificate: x509.Certificate, chain: list[x509.Certificate]
    ) -> None:
        tsa_der = certificate.public_bytes(Encoding.DER)
        tsa_cert = asn1_x509.Certificate.load(tsa_der)
        # A chain that repeats the TSA certificate would embed it twice.
        chain_certs = [_to_asn1(cert) for cert in chain if cert != certificate]

        # Only DER bytes are kept: each response loads fresh (lazy, cheap) objects
        # from them, so concurrent requests never share mutable asn1crypto state.
        issuer_name = asn1_x509.GeneralName(
            name="directory_name", value=tsa_cert.issuer
        )
        self._signing_certificate_der = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "cert_hash": hashlib.sha256(tsa_der).digest(),
                        "issuer_serial": {
                            "issuer": [issuer_name],
                            "serial_number": tsa_cert.serial_number,
                        },
                    }
                ]
            }
        ).dump()

        self._signer_id_der = cms.IssuerAndSerialNumber(
            {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
        ).dump()

        self._tsa_name_der = asn1_x509.GeneralName(
            name="directory_name", value=tsa_cert.subject
        ).dump()

        self._certificates_der = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=tsa_cert)]
            + [
                cms.CertificateChoices(name="certificate", value=cert)
                for cert in chain_certs
            ]
        ).dump()

        self._digest_algorithm_der = algos.DigestAlgorithm(
            {"algorithm": "sha256"}
        ).dump()

        signature_algorithm = (
            "sha256_rsa" if is_rsa(self._private_key) else "sha256_ecdsa"
        )
        self._signature_algorithm_der = algos.SignedDigestAlgorithm(
            {"algorithm": signature_algorithm}
        ).dump()

    @property
    def policy_oid(self) -> str:
        return self._policy_oid

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER ``TimeStampReq`` with a DER ``TimeStampResp``.

        Whatever the client sends, it gets a well-formed response, a rejection
        when the request cannot be honoured; only a token out of reach raises
        (``HsmUnavailable``).
        """
        try:
            request = self._accept(request_der)
        except _RequestRejected as rejection:
            logger.info(
                "tsa.request_rejected",
                extra={
                    "fail_info": rejection.fail_info,
                    "reason": rejection.status_text,
                },
            )
            return _rejection(rejection.fail_info, rejection.status_text)

        try:
            token = self._issue(request)
        except HsmUnavailable:
            # The TSA key's token is out of reach: a 503 the caller can retry,
            # rather than a protocol rejection that reads as final.
            raise
        except Exception:
            # Failures here are ours (key, clock, library), not the client's; the
            # client is owed a protocol answer and the traceback belongs in the log.
            logger.exception("tsa.issue_failed")
            return _rejection(
                "system_failure", "The time-stamping authority failed internally"
            )

        return TimeStampResponse(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()

    def _accept(self, request_der: bytes) -> _AcceptedRequest:
        if len(request_der) > MAX_REQUEST_SIZE:
            raise _RequestRejected("bad_data_format", "The request is too large")

        try:
            request = tsp.TimeStampReq.load(bytes(request_der), strict=True)
            # asn1crypto parses lazily; converting the whole structure here makes
            # any malformed inner field fail inside this guard.
            fields = request.native
            imprint = request["message_imprint"]
            parameters = imprint["hash_algorithm"]["parameters"]
            imprint_der = imprint.dump()
        except Exception as exc:
            # asn1crypto signals malformed input with ValueError, TypeError,
            # KeyError, OverflowError... depending on where it trips; all of them
            # mean the client sent something that is not a TimeStampReq.
            raise _RequestRejected(
                "bad_data_format", "The request is not a valid DER TimeStampReq"
            ) from exc

        version = fields["version"]
        algorithm = fields["message_imprint"]["hash_algorithm"]["algorithm"]
        hashed_message = fields["message_imprint"]["hashed_message"]
        policy = fields["req_policy"]
        nonce = fields["nonce"]
        cert_req = bool(fields["cert_req"])

        if version != "v1":
            raise _RequestRejected("bad_request", "Only version 1 requests are served")

        if algorithm not in _IMPRINT_LENGTHS:
            raise _RequestRejected(
                "bad_alg", "The hash algorithm must be SHA-256, SHA-384 or SHA-512"
            )

        if not isinstance(parameters, core.Void | core.Null):
            raise _RequestRejected(
                "bad_alg", "The hash algorithm must not carry parameters"
            )

        if len(hashed_message) != _IMPRINT_LENGTHS[algorithm]:
            raise _RequestRejected(
                "bad_data_format",
                "The message imprint length does not match its hash algorithm",
            )

        if policy is not None and policy != self._policy_oid:
            raise _RequestRejected(
                "unaccepted_policy", "The requested policy is not served"
            )

        if fields["extensions"]:
            raise _RequestRejected(
                "unaccepted_extensions", "Request extensions are not supported"
            )

        return _AcceptedRequest(
            message_imprint_der=imprint_der, nonce=nonce, cert_req=cert_req
        )

    def _issue(self, request: _AcceptedRequest) -> cms.ContentInfo:
        now = self._clock()
        if now.tzinfo is None:
            # astimezone() would read a naive value as local time and shift it.
            raise ValueError("the TSA clock returned a naive datetime")
        gen_time = now.astimezone(UTC).replace(microsecond=0)
        serial_number = _new_serial_number()

        tst_info_fields: dict[str, object] = {
            "version": "v1",
            "policy": self._policy_oid,
            "message_imprint": tsp.MessageImprint.load(request.message_imprint_der),
            "serial_number": serial_number,
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "ordering": False,
            "tsa": asn1_x509.GeneralName.load(self._tsa_name_der),
        }
        if request.nonce is not None:
            tst_info_fields["nonce"] = request.nonce
        tst_info_der = tsp.TSTInfo(tst_info_fields).dump()

        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {
                    "type": "message_digest",
                    "values": [hashlib.sha256(tst_info_der).digest()],
                },
                {"type": "signing_time", "values": [_cms_time(gen_time)]},
                {
                    "type": "signing_certificate_v2",
                    "values": [
                        tsp.SigningCertificateV2.load(self._signing_certificate_der)
                    ],
                },
            ]
        )
        signature = self._sign(signed_attrs.dump())

        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber.load(
                        self._signer_id_der
                    )
                },
                "digest_algorithm": algos.DigestAlgorithm.load(
                    self._digest_algorithm_der
                ),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm.load(
                    self._signature_algorithm_der
                ),
                "signature": signature,
            }
        )

        signed_data_fields: dict[str, object] = {
            # v3 because the encapsulated content is not id-data (RFC 5652 §5.1).
            "version": "v3",
            "digest_algorithms": [
                algos.DigestAlgorithm.load(self._digest_algorithm_der)
            ],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_info_der),
            },
            "signer_infos": [signer_info],
        }
        # RFC 3161 §2.4.1: without certReq the certificates field must be absent.
        if request.cert_req:
            signed_data_fields["certificates"] = cms.CertificateSet.load(
                self._certificates_der
            )

        logger.debug(
            "tsa.token_issued",
            extra={"serial_number": f"{serial_number:x}", "gen_time": gen_time},
        )
        return cms.ContentInfo(
            {
                "content_type": "signed_data",
                "content": cms.SignedData(signed_data_fields),
            }
        )

    def _sign(self, data: bytes) -> bytes:
        return sign(self._private_key, data, hashes.SHA256())


def _rejection(fail_info: str, status_text: str) -> bytes:
    return TimeStampResponse(
        {
            "status": {
                "status": "rejection",
                "status_string": [status_text],
                "fail_info": {fail_info},
            }
        }
    ).dump()


class EmbeddedTimeStamper(ThreadSafeProbe):
    """pyHanko ``TimeStamper`` backed by an in-process ``TimestampAuthority``."""

    def __init__(
        self, authority: TimestampAuthority, include_nonce: bool = True
    ) -> None:
        super().__init__(include_nonce=include_nonce)
        self._authority = authority

    async def async_request_tsa_response(
        self, req: tsp.TimeStampReq
    ) -> tsp.TimeStampResp:
        # Signing takes about a millisecond, far less than a thread hand-off
        # would be worth, so the event loop is simply borrowed.
        return TimeStampResponse.load(self._authority.respond(req.dump()))
