"""Keys inside the token: generated there, never extractable, found by label
and id, and signing through the pool.

Each private key carries a label saying what it is for (``pki:issuing``,
``identity:09S-…``) and, as its ``CKA_ID``, the SHA-1 of its public key (the
subject key identifier of its certificate, RFC 5280 §4.2.1.2): two keys left
under one label (a key generated for an identity whose transaction rolled
back, then the code given again) are still told apart, by their certificate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pkcs11
from asn1crypto import core
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ecdsa_signature, encode_named_curve_parameters

from sceau.errors import ConfigurationError
from sceau.hsm.config import TokenConfig
from sceau.hsm.module import HsmModule, ModuleError
from sceau.hsm.pool import PooledSession, SessionPool
from sceau.pki.keystore import PublicKey
from sceau.settings import Settings

logger = logging.getLogger(__name__)

TokenAlgorithm = Literal["rsa3072", "ecdsa-p256", "ecdsa-p384"]
_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "ecdsa-p256": ("secp256r1", ec.SECP256R1()),
    "ecdsa-p384": ("secp384r1", ec.SECP384R1()),
}
_RSA_MECHANISMS = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
# What a signing key may do, and what it may never do: leave the token in
# clear or wrapped, decrypt, or derive.
_PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
_PUBLIC_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
}


def key_id_of(public_key: PublicKey) -> bytes:
    """SHA-1 of the subjectPublicKey bits: the certificate's key identifier."""
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


@dataclass(frozen=True)
class TokenKey:
    """A private key in the token; an ``ExternalKey`` for the PKI and signer."""

    pool: SessionPool
    label: str
    key_id: bytes
    public: PublicKey

    def public_key(self) -> PublicKey:
        return self.public

    def sign_data(self, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
        if isinstance(self.public, rsa.RSAPublicKey):
            mechanism = _RSA_MECHANISMS.get(algorithm.name)
            if mechanism is None:
                raise ValueError(
                    f"token RSA keys sign with SHA-256, SHA-384 or SHA-512, "
                    f"not {algorithm.name}"
                )

            def rsa_sign(pooled: PooledSession) -> bytes:
                key = pooled.private_key(self.label, self.key_id)
                return bytes(key.sign(data, mechanism=mechanism))

            return self.pool.run(rsa_sign, what="sign")

        # SoftHSM 2.6 has no hashing ECDSA mechanisms: hash here, sign the
        # digest with raw CKM_ECDSA, and encode r and s as DER.
        hasher = hashes.Hash(algorithm)
        hasher.update(data)
        digest = hasher.finalize()

        def ec_sign(pooled: PooledSession) -> bytes:
            key = pooled.private_key(self.label, self.key_id)
            return bytes(key.sign(digest, mechanism=Mechanism.ECDSA))

        return encode_ecdsa_signature(self.pool.run(ec_sign, what="sign"))


@dataclass(frozen=True)
class TokenObject:
    """What ``sceau hsm status`` shows of a private key."""

    label: str
    key_id: str
    key_type: str
    size: str
    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    local: bool


class TokenKeys:
    """The service's view of its token: make, find and list keys."""

    def __init__(self, pool: SessionPool) -> None:
        self.pool = pool

    @property
    def token_label(self) -> str:
        return self.pool.config.token_label

    def generate(self, algorithm: TokenAlgorithm, label: str) -> TokenKey:
        """A new key pair made inside the token, sensitive and not extractable."""

        def make(pooled: PooledSession) -> tuple[bytes, PublicKey]:
            session = pooled.session
            if algorithm == "rsa3072":
                public, private = session.generate_keypair(
                    KeyType.RSA,
                    3072,
                    store=True,
                    label=label,
                    public_template=dict(_PUBLIC_TEMPLATE),
                    private_template=dict(_PRIVATE_TEMPLATE),
                )
                public_key: PublicKey = rsa.RSAPublicNumbers(
                    int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
                    int.from_bytes(public[Attribute.MODULUS], "big"),
                ).public_key()
            else:
                curve_name, curve = _CURVES[algorithm]
                parameters = session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters(curve_name)},
                    local=True,
                )
                public, private = parameters.generate_keypair(
                    store=True,
                    label=label,
                    public_template=dict(_PUBLIC_TEMPLATE),
                    private_template=dict(_PRIVATE_TEMPLATE),
                )
                point = core.OctetString.load(public[Attribute.EC_POINT]).native
                public_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            key_id = key_id_of(public_key)
            private[Attribute.ID] = key_id
            public[Attribute.ID] = key_id
            return key_id, public_key

        key_id, public_key = self.pool.run(make, what="generate")
        logger.info(
            "hsm.key_generated",
            extra={"label": label, "algorithm": algorithm, "key_id": key_id.hex()},
        )
        return TokenKey(self.pool, label, key_id, public_key)

    def destroy(self, key: TokenKey) -> None:
        """Best effort: remove a key pair that nothing will refer to (its
        identity or CA was not written after all). A failure is logged: the
        pair is left in the token, under its label, unused."""

        def remove(pooled: PooledSession) -> None:
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                for found in pooled.session.get_objects(
                    {
                        Attribute.CLASS: object_class,
                        Attribute.LABEL: key.label,
                        Attribute.ID: key.key_id,
                    }
                ):
                    found.destroy()
            pooled.keys.pop((key.label, key.key_id), None)

        try:
            self.pool.run(remove, what="destroy")
        except Exception as exc:
            logger.warning(
                "hsm.key_left_in_token",
                extra={
                    "label": key.label,
                    "key_id": key.key_id.hex(),
                    "reason": type(exc).__name__,
                },
            )
            return
        logger.info(
            "hsm.key_destroyed",
            extra={"label": key.label, "key_id": key.key_id.hex()},
        )

    def key(self, label: str, public_key: object) -> TokenKey:
        """The token key under ``label`` whose public half is ``public_key``
        (from its certificate); the token is only asked at the first use."""
        if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"the key {label} is neither RSA nor EC")
        return TokenKey(self.pool, label, key_id_of(public_key), public_key)

    def private_keys(self) -> list[TokenObject]:
        def read(pooled: PooledSession) -> list[TokenObject]:
            found = pooled.session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
            )
            return [_describe(key) for key in found]

        return self.pool.run(read, what="list")


def _describe(key: Any) -> TokenObject:
    def flag(attribute: Attribute) -> bool:
        try:
            return bool(key[attribute])
        except pkcs11.AttributeTypeInvalid:
            return False

    key_type = key[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        kind, size = "RSA", f"{len(key[Attribute.MODULUS]) * 8} bits"
    elif key_type == KeyType.EC:
        kind = "EC"
        parameters = asn1_keys.ECDomainParameters.load(key[Attribute.EC_PARAMS])
        size = str(parameters.chosen.native)
    else:
        kind, size = str(key_type.name), "-"
    return TokenObject(
        label=str(key[Attribute.LABEL]),
        key_id=bytes(key[Attribute.ID] or b"").hex(),
        key_type=kind,
        size=size,
        sensitive=flag(Attribute.SENSITIVE),
        extractable=flag(Attribute.EXTRACTABLE),
        always_sensitive=flag(Attribute.ALWAYS_SENSITIVE),
        never_extractable=flag(Attribute.NEVER_EXTRACTABLE),
        local=flag(Attribute.LOCAL),
    )


class _Recording(TokenKeys):
    """Token keys that remember the pairs they made."""

    def __init__(self, pool: SessionPool) -> None:
        super().__init__(pool)
        self.made: list[TokenKey] = []

    def generate(self, algorithm: TokenAlgorithm, label: str) -> TokenKey:
        key = super().generate(algorithm, label)
        self.made.append(key)
        return key


@contextmanager
def destroyed_on_failure(keys: TokenKeys | None) -> Iterator[TokenKeys | None]:
    """Keys made inside the block are destroyed again if the block fails
    (a CA certificate not signed, its files not written): no pair is left
    in the token that nothing refers to."""
    if keys is None:
        yield None
        return
    recording = _Recording(keys.pool)
    try:
        yield recording
    except BaseException:
        for key in reversed(recording.made):
            keys.destroy(key)
        raise


# -- one pool per module and token in the process ------------------------------

_registry_lock = threading.Lock()
_modules: dict[str, tuple[HsmModule, int]] = {}
_pools: dict[tuple[str, str], tuple[SessionPool, int]] = {}


def open_token(settings: Settings) -> TokenKeys | None:
    """The token the settings name, shared by every user in the process (the
    token's login is the process's); None when no module is set. Each call
    is matched by one ``release_token``."""
    config = TokenConfig.from_settings(settings)
    if config is None:
        return None
    module_key = str(config.module.resolve())
    with _registry_lock:
        pool_key = (module_key, config.token_label)
        if pool_key in _pools:
            pool, users = _pools[pool_key]
            _pools[pool_key] = (pool, users + 1)
            return TokenKeys(pool)
        if module_key in _modules:
            module, module_users = _modules[module_key]
        else:
            try:
                module, module_users = HsmModule(config.module), 0
            except ModuleError as exc:
                raise ConfigurationError(str(exc)) from exc
        try:
            check_mechanisms(module, config.token_label)
        except ConfigurationError:
            if module_users == 0:
                module.close()
            raise
        _modules[module_key] = (module, module_users + 1)
        pool = SessionPool(module, config)
        _pools[pool_key] = (pool, 1)
        return TokenKeys(pool)


# What the service asks of a token: RSA signatures (hashing in the token, or
# raw PKCS#1 v1.5), raw ECDSA over a digest made here, and key generation.
REQUIRED_MECHANISMS: tuple[tuple[str, tuple[Mechanism, ...]], ...] = (
    ("CKM_SHA256_RSA_PKCS", (Mechanism.SHA256_RSA_PKCS,)),
    ("CKM_ECDSA", (Mechanism.ECDSA,)),
    ("CKM_RSA_PKCS_KEY_PAIR_GEN", (Mechanism.RSA_PKCS_KEY_PAIR_GEN,)),
    ("CKM_EC_KEY_PAIR_GEN", (Mechanism.EC_KEY_PAIR_GEN,)),
)


def check_mechanisms(module: HsmModule, token_label: str) -> None:
    """Refuse a token that lacks a mechanism the service needs. A token out
    of reach at start is not refused: the pool answers 503 until it is back."""
    try:
        token = module.lib.get_token(token_label=token_label)
        offered = set(token.slot.get_mechanisms())
    except pkcs11.PKCS11Error as exc:
        logger.warning(
            "hsm.mechanisms_unchecked",
            extra={"token": token_label, "reason": type(exc).__name__},
        )
        return
    missing = [
        name
        for name, mechanisms in REQUIRED_MECHANISMS
        if not any(mechanism in offered for mechanism in mechanisms)
    ]
    if missing:
        raise ConfigurationError(
            f"the PKCS#11 token {token_label!r} lacks the mechanism(s) the "
            f"service needs: {', '.join(missing)}"
        )


def release_token(keys: TokenKeys) -> None:
    pool = keys.pool
    module_key = str(pool.config.module.resolve())
    pool_key = (module_key, pool.config.token_label)
    with _registry_lock:
        entry = _pools.get(pool_key)
        if entry is None or entry[0] is not pool:
            return
        if entry[1] > 1:
            _pools[pool_key] = (pool, entry[1] - 1)
            return
        del _pools[pool_key]
        pool.close()
        module, users = _modules[module_key]
        if users > 1:
            _modules[module_key] = (module, users - 1)
        else:
            del _modules[module_key]
            module.close()
