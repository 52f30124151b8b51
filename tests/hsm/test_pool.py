"""The session pool on a real token: shared by threads, one login for the
process, at most ``pkcs11_pool_size`` sessions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import hashes

from sceau.hsm.keys import open_token, release_token
from sceau.pki.signatures import verify
from sceau.runtime import Runtime
from sceau.settings import Settings


def test_threads_sign_at_once_on_one_login(hsm_runtime: Runtime) -> None:
    assert hsm_runtime.token is not None
    keys = hsm_runtime.token
    rsa_key = keys.generate("rsa3072", "test:threads-rsa")
    ec_key = keys.generate("ecdsa-p256", "test:threads-ec")
    messages = [f"acte {number}".encode() for number in range(160)]

    def sign(message: bytes) -> tuple[bytes, bytes]:
        return (
            rsa_key.sign_data(message, hashes.SHA256()),
            ec_key.sign_data(message, hashes.SHA384()),
        )

    with ThreadPoolExecutor(max_workers=8) as executor:
        signatures = list(executor.map(sign, messages))

    for message, (by_rsa, by_ec) in zip(messages, signatures, strict=True):
        verify(rsa_key.public_key(), by_rsa, message, hashes.SHA256())
        verify(ec_key.public_key(), by_ec, message, hashes.SHA384())
    pool = keys.pool
    assert pool.logins == 1
    assert 1 <= pool._open <= pool.size


def test_every_user_in_the_process_shares_the_token_login(
    hsm_runtime: Runtime, hsm_settings: Settings
) -> None:
    # The SLA heartbeat opens the token on its own; PKCS#11 logs in a
    # process once, so it must get the runtime's pool, not a second login.
    assert hsm_runtime.token is not None
    other = open_token(hsm_settings)
    try:
        assert other is not None
        assert other.pool is hsm_runtime.token.pool
        key = other.generate("ecdsa-p256", "test:shared")
        verify(
            key.public_key(),
            key.sign_data(b"x", hashes.SHA256()),
            b"x",
            hashes.SHA256(),
        )
        assert other.pool.logins == 1
    finally:
        assert other is not None
        release_token(other)
