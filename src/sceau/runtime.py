"""What one process builds once and shares between requests: settings, the
database, the PKI, the time-stamper, the PAdES engine, parsed signing keys and,
when keys live in a PKCS#11 token, the pool of sessions to it.

Nothing here is state another process would need; it is all derived from the
data directory and the database.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import timedelta
from functools import cached_property

from cryptography import x509
from sqlalchemy import select

from sceau.auth.service import Authenticator, AuthPolicy
from sceau.db import Database
from sceau.errors import ConfigurationError
from sceau.hsm.errors import SigningKeyMissing
from sceau.hsm.keys import TokenKeys, open_token, release_token
from sceau.identities.models import Identity
from sceau.identities.service import key_purpose
from sceau.pki.access import AccessCa
from sceau.pki.keystore import KeySealer, SignatureKey
from sceau.pki.service import PkiUrls, ServicePki
from sceau.settings import Settings, check_production_ready
from sceau.signing.engine import PadesEngine, SigningKey, TrustMaterial
from sceau.timestamping.external import FallbackHTTPTimeStamper
from sceau.timestamping.tsa import EmbeddedTimeStamper, TimestampAuthority

logger = logging.getLogger(__name__)

SIGNER_CACHE_SIZE = 512


class Runtime:
    def __init__(self, settings: Settings) -> None:
        check_production_ready(settings)
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.resolved_database_url)
        self._keys: OrderedDict[str, SigningKey] = OrderedDict()
        self._lock = threading.Lock()
        self._trust: tuple[tuple[bytes, ...], TrustMaterial] | None = None

    def prepare(self) -> None:
        """Migrate the database and load (or create) the PKI: in the token,
        with ``key_store=pkcs11``, when there is none yet."""
        self.db.upgrade()
        _ = self.pki
        _ = self.access_ca
        if self.token is None:
            self._refuse_token_identities()

    def _refuse_token_identities(self) -> None:
        # Identities whose keys are in a token cannot sign without it: refuse
        # to start rather than answer 503 to each of their requests.
        with self.db.sessions() as session:
            found = session.scalar(
                select(Identity.code_09).where(Identity.key_label.is_not(None)).limit(1)
            )
        if found is not None:
            raise ConfigurationError(
                f"the identity {found} (and maybe others) has its key in a PKCS#11 "
                "token: set SCEAU_PKCS11_MODULE and SCEAU_PKCS11_TOKEN"
            )

    @cached_property
    def token(self) -> TokenKeys | None:
        """The PKCS#11 token, when a module is set (whatever ``key_store``:
        keys already in a token stay usable after switching back to files)."""
        return open_token(self.settings)

    @cached_property
    def sealer(self) -> KeySealer:
        return KeySealer(self.settings.load_master_key())

    @cached_property
    def pki(self) -> ServicePki:
        return ServicePki.load_or_create(
            self.settings.pki_dir,
            self.sealer,
            PkiUrls(self.settings.public_base_url),
            self.db,
            token=self.token,
            create_in_token=self.settings.key_store == "pkcs11",
        )

    @cached_property
    def authenticator(self) -> Authenticator:
        settings = self.settings
        return Authenticator(
            self.db,
            self.sealer,
            AuthPolicy(
                hmac_window=timedelta(seconds=settings.hmac_window_seconds),
                failure_limit=settings.auth_failure_limit,
                failure_window=timedelta(seconds=settings.auth_failure_window_seconds),
            ),
        )

    @cached_property
    def access_ca(self) -> AccessCa:
        return AccessCa.load_or_create(
            self.settings.pki_dir / "access",
            self.sealer,
            PkiUrls(self.settings.public_base_url),
            self.db,
            token=self.token,
            create_in_token=self.settings.key_store == "pkcs11",
        )

    @cached_property
    def tsa(self) -> TimestampAuthority:
        pki = self.pki
        return TimestampAuthority(
            pki.tsa_cert, pki.tsa_key, [pki.issuing_cert, pki.root_cert]
        )

    @cached_property
    def engine(self) -> PadesEngine:
        if self.settings.tsa_urls:
            timestamper: EmbeddedTimeStamper | FallbackHTTPTimeStamper = (
                FallbackHTTPTimeStamper(
                    self.settings.tsa_urls, timeout=self.settings.tsa_timeout_seconds
                )
            )
            return PadesEngine(timestamper, token_bytes=12288)
        return PadesEngine(EmbeddedTimeStamper(self.tsa))

    @cached_property
    def _external_tsa_roots(self) -> list[x509.Certificate]:
        roots: list[x509.Certificate] = []
        for path in self.settings.tsa_trust_roots:
            try:
                roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"SCEAU_TSA_TRUST_ROOTS: cannot read a PEM certificate from {path}"
                ) from exc
        return roots

    def trust(self) -> TrustMaterial:
        """Root, chain and current CRLs for B-LT, rebuilt when a CRL changes."""
        with self.db.sessions() as session:
            crls = tuple(self.pki.crls(session))
        with self._lock:
            if self._trust is None or self._trust[0] != crls:
                material = TrustMaterial(
                    self.pki.root_cert,
                    [self.pki.issuing_cert],
                    list(crls),
                    external_roots=self._external_tsa_roots,
                )
                self._trust = (crls, material)
            return self._trust[1]

    def signing_key(self, identity: Identity) -> SigningKey:
        """The identity's key, unsealed and parsed once per process."""
        with self._lock:
            cached = self._keys.get(identity.code_09)
            if cached is not None:
                self._keys.move_to_end(identity.code_09)
                return cached

        certificate = x509.load_der_x509_certificate(identity.certificate_der)
        key = self._identity_key(identity, certificate)
        signing_key = SigningKey.of(
            certificate, key, [self.pki.issuing_cert, self.pki.root_cert]
        )
        with self._lock:
            self._keys[identity.code_09] = signing_key
            while len(self._keys) > SIGNER_CACHE_SIZE:
                self._keys.popitem(last=False)
        return signing_key

    def _identity_key(
        self, identity: Identity, certificate: x509.Certificate
    ) -> SignatureKey:
        if identity.key_label is None:
            assert identity.sealed_key is not None
            return self.sealer.unseal(
                identity.sealed_key, key_purpose(identity.code_09)
            )
        token = self.token
        if token is None:
            logger.error(
                "hsm.not_configured",
                extra={"code_09": identity.code_09, "label": identity.key_label},
            )
            raise SigningKeyMissing()
        return token.key(identity.key_label, certificate.public_key())

    def close(self) -> None:
        self.db.dispose()
        token = self.__dict__.pop("token", None)
        if token is not None:
            release_token(token)
