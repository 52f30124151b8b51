"""The CAs whose keys are in the token sign certificates and CRLs that
``cryptography`` verifies against the CA certificates."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from sceau.runtime import Runtime
from tests.conftest import provision


def test_root_and_issuing_crls_are_signed_by_their_token_keys(
    hsm_runtime: Runtime,
) -> None:
    pki = hsm_runtime.pki
    with hsm_runtime.db.sessions() as session:
        root_crl = x509.load_der_x509_crl(pki.crl_der("root", session))
        issuing_crl = x509.load_der_x509_crl(pki.crl_der("issuing", session))

    assert root_crl.is_signature_valid(pki.root_cert.public_key())
    assert issuing_crl.is_signature_valid(pki.issuing_cert.public_key())
    assert root_crl.issuer == pki.root_cert.subject


def test_access_ca_in_the_token_issues_client_certificates_and_its_crl(
    hsm_runtime: Runtime,
) -> None:
    client = provision(hsm_runtime)
    access = hsm_runtime.access_ca
    client_key = ec.generate_private_key(ec.SECP256R1())

    with hsm_runtime.db.transaction() as session:
        certificate = access.issue_client_certificate(
            session,
            client_id=client.client_id,
            organisation="Atlanta Assurances",
            public_key=client_key.public_key(),
        )
        crl = access.crl(session)

    certificate.verify_directly_issued_by(access.certificate)
    assert crl.is_signature_valid(access.certificate.public_key())
