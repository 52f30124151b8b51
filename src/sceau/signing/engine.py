"""The PAdES engine: one pyHanko signature, with the work that can be done once
done once.

Two costs of stock pyHanko are avoided (see docs/benchmarks.md): the private key
is parsed once and kept (``KeptKeySigner``), and the size of the signature is
reserved from what the chain weighs, so pyHanko does not sign twice to measure.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from io import BytesIO
from typing import Literal

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import BuildProps
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from sceau.pki.keystore import SignatureKey
from sceau.pki.signatures import max_signature_bytes, sign
from sceau.signing.asn1_encoding import (
    encode_built_values_once,
    prepare_name_strings_once,
)
from sceau.signing.seal import Appearance, place_on_page
from sceau.signing.seal_drawing import SealStyle

logger = logging.getLogger(__name__)

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")

# Room for the CMS structure around certificates, signature and token.
_CMS_OVERHEAD = 3072


class _NoFetchingNotice(logging.Filter):
    """pyHanko warns on every B-LT signature that fetching is off. It is off on
    purpose: the service hands it its own CRLs, so the notice is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_NoFetchingNotice())
encode_built_values_once()
prepare_name_strings_once()


@dataclass(frozen=True)
class SigningKey:
    """An identity's parsed key (or its key in a PKCS#11 token) and its
    certificates as DER: safe to share between threads, unlike asn1crypto
    objects, which parse themselves lazily on first use and break when two
    threads do it at once."""

    key: SignatureKey
    certificate_der: bytes
    chain_der: tuple[bytes, ...]
    _per_thread: threading.local = field(
        default_factory=threading.local, compare=False, repr=False
    )

    @classmethod
    def of(
        cls,
        certificate: x509.Certificate,
        key: SignatureKey,
        chain: list[x509.Certificate],
    ) -> SigningKey:
        der = serialization.Encoding.DER
        return cls(
            key,
            certificate.public_bytes(der),
            tuple(c.public_bytes(der) for c in chain),
        )

    def signer(self) -> KeptKeySigner:
        """This thread's signer: never shared with another thread, and built
        once per thread (registering the chain costs a few milliseconds)."""
        signer: KeptKeySigner | None = getattr(self._per_thread, "signer", None)
        if signer is None:
            signer = KeptKeySigner(self)
            self._per_thread.signer = signer
        return signer


class KeptKeySigner(signers.Signer):
    """A pyHanko signer around an already-parsed ``cryptography`` key, or a
    token key signing through the pool's logged-in sessions."""

    def __init__(self, signing_key: SigningKey) -> None:
        self._key = signing_key.key
        signing_cert = asn1_x509.Certificate.load(signing_key.certificate_der)
        chain = [asn1_x509.Certificate.load(der) for der in signing_key.chain_der]
        super().__init__(
            signing_cert=signing_cert,
            # pyHanko adds signing_cert to the CMS itself, and its set of
            # asn1crypto objects does not merge equal certificates: listed here
            # too, the signer's certificate was embedded twice in every CMS.
            cert_registry=SimpleCertificateStore.from_certs(chain),
            embed_roots=True,
        )
        self.chain_bytes = len(signing_key.certificate_der) + sum(
            len(der) for der in signing_key.chain_der
        )
        self.signature_bytes = max_signature_bytes(self._key)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        # A token's signature takes a millisecond or two on a pooled session:
        # not worth a thread hand-off, like the embedded TSA's.
        return sign(self._key, data, get_pyca_cryptography_hash(digest_algorithm))


class PdfRejected(ValueError):
    """The bytes are not a PDF we can sign; ``code`` says why, in the API's words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SignedPdf:
    pdf: bytes
    sha256: str


class TrustMaterial:
    """What B-LT needs to embed: the trust anchor, the CA chain and fresh CRLs."""

    def __init__(
        self,
        root: x509.Certificate,
        intermediates: list[x509.Certificate],
        crls_der: list[bytes],
        *,
        external_roots: list[x509.Certificate] | None = None,
    ) -> None:
        der = serialization.Encoding.DER
        # Kept as DER, and parsed for each signature (see SigningKey).
        self.roots_der = [c.public_bytes(der) for c in [root, *(external_roots or ())]]
        self.intermediates_der = [c.public_bytes(der) for c in intermediates]
        self.crls_der = list(crls_der)
        self.fetch_revocation = bool(external_roots)

    def validation_context(self) -> ValidationContext:
        # Our own CRLs are handed over; only an external TSA's chain needs its
        # revocation data fetched, from the URLs in its certificates.
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(d) for d in self.roots_der],
            other_certs=[asn1_x509.Certificate.load(d) for d in self.intermediates_der],
            crls=[asn1_crl.CertificateList.load(d) for d in self.crls_der],
            allow_fetching=self.fetch_revocation,
            revocation_mode="hard-fail",
        )


@dataclass(frozen=True)
class ServiceBuildProps(BuildProps):
    """The signature's ``/Prop_Build /App`` entry: the application that made
    it and, for a signature made under a delegation, its reference
    (``/Delegation``), inside the signed bytes like the reason."""

    delegation_ref: str | None = None

    def as_pdf_object(self) -> generic.DictionaryObject:
        props = super().as_pdf_object()
        if self.delegation_ref:
            props["/Delegation"] = generic.TextStringObject(self.delegation_ref)
        return props


APPLICATION_NAME = "PixelSceau"


class PadesEngine:
    def __init__(self, timestamper: TimeStamper, token_bytes: int = 6144) -> None:
        self.timestamper = timestamper
        self._probe_lock = threading.Lock()
        self._probed = False
        # A token carries the TSA certificate and its chain: about 5 KB here.
        self.token_bytes = token_bytes

    def sign(
        self,
        pdf: bytes,
        *,
        key: SigningKey,
        reason: str,
        signer_name: str,
        level: Level,
        field_name: str,
        trust: TrustMaterial | None,
        appearance: Appearance | None = None,
        delegation_ref: str | None = None,
    ) -> SignedPdf:
        """Sign ``pdf``; invisibly, unless ``appearance`` asks for a seal.
        ``delegation_ref`` names the delegation a signature is made under."""
        writer = open_pdf(pdf)
        signer = key.signer()

        # The seal is placed before anything costly, so that a seal that does
        # not fit the page is refused at once.
        field_spec: fields.SigFieldSpec | None = None
        stamp_style: SealStyle | None = None
        if appearance is not None:
            placed = place_on_page(writer, appearance.placement)
            field_spec = fields.SigFieldSpec(
                field_name, on_page=placed.page_index, box=placed.rect
            )
            stamp_style = SealStyle(appearance=appearance)

        with_timestamp = level != "B-B"
        long_term = level in ("B-LT", "B-LTA")
        if long_term and trust is None:
            raise ValueError("B-LT and B-LTA need trust material")
        metadata = signers.PdfSignatureMetadata(
            field_name=field_name,
            reason=reason,
            name=signer_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=long_term,
            use_pades_lta=level == "B-LTA",
            validation_context=trust.validation_context() if trust else None,
            app_build_props=ServiceBuildProps(
                name=APPLICATION_NAME, delegation_ref=delegation_ref
            ),
        )

        # The seal's drawing goes into the PDF's incremental update, not into
        # the CMS: it needs no more reserved room.
        reserved = signer.chain_bytes + signer.signature_bytes + _CMS_OVERHEAD
        if with_timestamp:
            self._probe_timestamper()
            reserved += self.token_bytes
        pdf_signer = signers.PdfSigner(
            metadata,
            signer,
            timestamper=self.timestamper if with_timestamp else None,
            stamp_style=stamp_style,
            new_field_spec=field_spec,
        )
        output = pdf_signer.sign_pdf(writer, bytes_reserved=2 * reserved)
        data = output.getvalue()
        return SignedPdf(pdf=data, sha256=hashlib.sha256(data).hexdigest())

    def _probe_timestamper(self) -> None:
        """pyHanko sizes and validates the TSA from one probe token per
        time-stamper (see timestamping/probe.py). Fetch it once, under a lock,
        so that a burst of first requests does not each fetch one."""
        if self._probed:
            return
        with self._probe_lock:
            if self._probed:
                return
            asyncio.run(self.timestamper.async_dummy_response("sha256"))
            self._probed = True


def open_pdf(pdf: bytes) -> IncrementalPdfFileWriter:
    """Parse a PDF for an incremental update, or say why it cannot be signed."""
    if not pdf:
        raise PdfRejected("pdf_vide", "Le document est vide (0 octet).")
    if b"%PDF-" not in pdf[:1024]:
        raise PdfRejected(
            "pdf_invalide", "Le document n'est pas un PDF (en-tête %PDF- absent)."
        )
    if b"%%EOF" not in pdf[-2048:]:
        raise PdfRejected(
            "pdf_tronque",
            "Le PDF est tronqué (marqueur de fin %%EOF absent) : renvoyez le "
            "fichier complet.",
        )

    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        encrypted = writer.prev.encrypted
        # Touch the page tree now, so a broken document fails here, not mid-way.
        writer.root["/Pages"]
    except Exception as exc:
        # pyHanko raises many types (PdfReadError, KeyError, ValueError, …) on
        # malformed input; any of them means "this PDF cannot be read".
        logger.info("pdf.unreadable", extra={"reason": type(exc).__name__})
        raise PdfRejected(
            "pdf_invalide", "Le PDF est illisible ou corrompu et ne peut être signé."
        ) from exc

    if encrypted:
        raise PdfRejected(
            "pdf_chiffre",
            "Le PDF est chiffré : envoyez une version sans mot de passe ni "
            "chiffrement.",
        )
    return writer
