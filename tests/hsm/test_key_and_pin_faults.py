"""A key missing from a token that works fails that request alone, as an
operator's matter (``cle_de_signature_introuvable``, not "try again in a
moment"); a PIN the token refused is not offered to it again until its
source gives another."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pkcs11 import Attribute, Mechanism, ObjectClass

from sceau.audit.actors import Actor
from sceau.clients.provisioning import provision_system_client
from sceau.errors import ConfigurationError
from sceau.hsm import keys
from sceau.hsm.errors import KEY_MISSING_RETRY_AFTER_SECONDS, HsmUnavailable
from sceau.hsm.pool import PooledSession
from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import provision, sign_body
from tests.hsm.conftest import USER_PIN
from tests.support.pdfs import one_page_pdf

SIGN = "/api/v1/sceau/b2b/signer"


def test_a_key_missing_from_the_token_fails_its_request_alone(
    hsm_api: TestClient, hsm_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    gone = provision(hsm_runtime, name="Cabinet Sans Clé", body="SANSCLE")
    kept = provision(hsm_runtime)
    assert hsm_runtime.token is not None
    pool = hsm_runtime.token.pool
    label = f"identity:{gone.code_09}"

    def destroy(pooled: PooledSession) -> None:
        for key in pooled.session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
        ):
            key.destroy()

    pool.run(destroy, what="test")
    generation, logins = pool.module.generation, pool.logins

    refused = hsm_api.post(
        SIGN, headers=gone.headers, json=sign_body(gone, one_page_pdf(), niveau="B-B")
    )
    signed = hsm_api.post(
        SIGN, headers=kept.headers, json=sign_body(kept, one_page_pdf(), niveau="B-B")
    )

    # Not "try again in a moment": the key will not come back on its own.
    assert refused.status_code == 503, refused.text
    assert refused.json()["erreur"]["code"] == "cle_de_signature_introuvable"
    assert "opérateur" in refused.json()["erreur"]["message"]
    assert int(refused.headers["Retry-After"]) == KEY_MISSING_RETRY_AFTER_SECONDS
    # The other client signs at once: no reset of the module, no pause.
    assert signed.status_code == 200, signed.text
    assert (pool.module.generation, pool.logins) == (generation, logins)
    assert "hsm.key_missing" in caplog.text
    assert "hsm.module_reset" not in caplog.text


def test_a_refused_pin_is_not_offered_again_until_it_changes(
    hsm_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pin_file = tmp_path / "changing.pin"
    pin_file.write_text("0000-not-the-pin\n")
    pin_file.chmod(0o600)
    runtime = Runtime(hsm_settings.model_copy(update={"pkcs11_pin_file": pin_file}))
    try:
        runtime.prepare()
        with caplog.at_level(logging.INFO, logger="sceau.hsm"):
            for _ in range(3):
                with pytest.raises(HsmUnavailable):
                    provision(runtime)
            refusals = [
                r for r in caplog.records if r.getMessage() == "hsm.pin_refused"
            ]
            # One login tried: the two requests after it were answered
            # without offering the token the same PIN.
            assert len(refusals) == 1

            pin_file.write_text(USER_PIN + "\n")
            provision(runtime)
        assert runtime.token is not None and runtime.token.pool.logins == 1
    finally:
        runtime.close()
    assert USER_PIN not in caplog.text
    assert "0000-not-the-pin" not in caplog.text


def _private_labels(runtime: Runtime) -> list[str]:
    assert runtime.token is not None
    return [key.label for key in runtime.token.private_keys()]


def test_a_key_made_for_an_identity_not_written_is_destroyed(
    hsm_runtime: Runtime,
) -> None:
    before = _private_labels(hsm_runtime)

    with (
        pytest.raises(RuntimeError, match="after the identity"),
        hsm_runtime.db.transaction() as session,
    ):
        provision_system_client(
            session,
            hsm_runtime.pki,
            hsm_runtime.sealer,
            name="Cabinet Annulé",
            label="Cabinet Annulé – production",
            body="ANNULE",
            algorithm="ecdsa-p256",
            state="production",
            by=Actor.operator(),
        )
        assert len(_private_labels(hsm_runtime)) == len(before) + 1
        raise RuntimeError("a failure after the identity, in its transaction")

    assert _private_labels(hsm_runtime) == before


def test_a_token_without_a_needed_mechanism_refuses_to_start(
    hsm_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SoftHSM offers every mechanism the service needs; one it lacks stands
    # for a token that cannot do what the service asks of it.
    monkeypatch.setattr(
        keys,
        "REQUIRED_MECHANISMS",
        (("CKM_SHA3_256_RSA_PKCS", (Mechanism.SHA3_256_RSA_PKCS,)),),
    )
    runtime = Runtime(hsm_settings)
    with pytest.raises(ConfigurationError, match="CKM_SHA3_256_RSA_PKCS"):
        runtime.prepare()
    runtime.close()


def test_identities_in_a_token_refuse_a_start_without_a_module(
    hsm_runtime: Runtime, hsm_settings: Settings
) -> None:
    provision(hsm_runtime)
    hsm_runtime.close()
    settings = hsm_settings.model_copy(
        update={"key_store": "file", "pkcs11_module": None, "pkcs11_token": None}
    )
    # The PKI's own keys are in the token too: a data dir with a file PKI
    # shows the identities' check alone.
    runtime = Runtime(settings)
    with pytest.raises(ConfigurationError, match="PKCS#11"):
        runtime.prepare()
    runtime.close()
