"""A person signs (or refuses) an act: the stored document, with their own key
after a fresh TOTP code, once, and never past its time or after a cancel."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.acts.errors import (
    ActAlreadyDecided,
    ActExpired,
    ActNotFound,
    DocumentMismatch,
    InvalidRefusal,
)
from sceau.acts.service import (
    act_document,
    cancel_act,
    get_act_for_person,
    list_for_person,
    list_waiting_for_person,
    refuse_act,
    sign_act,
)
from sceau.audit.actors import Actor
from sceau.errors import SceauError
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.acts.conftest import ACTS, events_of, new_act, post_act, sha256_of
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered
from tests.people.test_enrolment import enrol
from tests.support.validators import nss_db, pdfsig

LATER = START + timedelta(seconds=30)


def _sign(
    runtime: Runtime, person: Registered, ref: str, secret: str, **overrides: Any
) -> Any:
    with runtime.db.sessions() as session:
        state = get_act_for_person(session, person.person_id, ref, LATER)
        shown = sha256_of(act_document(session, state.act))
    fields: dict[str, Any] = {
        "person_id": person.person_id,
        "ref": ref,
        "totp_code": pyotp.TOTP(secret).at(LATER),
        "shown_sha256": shown,
        "request_id": "req-web",
        "now": LATER,
    }
    fields.update(overrides)
    return sign_act(runtime, **fields)


def test_sign_act_signs_the_stored_document_and_pdfsig_trusts_it(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    notary: Registered,
    tmp_path: Path,
) -> None:
    secret, _ = enrol(runtime, notary)
    ref = post_act(api, atlanta, notary.code_09).json()["ref_acte"]

    signed = _sign(runtime, notary, ref, secret)
    read = api.get(f"{ACTS}/{ref}", headers=atlanta.headers).json()
    pdf = api.get(f"{ACTS}/{ref}/pdf", headers=atlanta.headers)

    assert signed.status == "signe"
    assert read["statut"] == "signe"
    assert read["ref_signature"] == signed.signature.ref
    assert read["sha256_signe"] == sha256_of(pdf.content)
    assert read["ref_horodatage"].startswith("HRD-")
    assert pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "acte.pdf"
    path.write_bytes(pdf.content)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output and "Certificate is Trusted." in output

    [event] = events_of(runtime, ref, "acte.signe")
    data = json.loads(event.payload)["data"]
    assert data["ref_signature"] == read["ref_signature"]
    assert data["sha256_signe"] == read["sha256_signe"]
    assert data["ref_horodatage"] == read["ref_horodatage"]
    [signee] = events_of(runtime, read["ref_signature"], "signature.signee")
    assert json.loads(signee.payload)["data"]["ref_acte"] == ref


def test_sign_act_refuses_another_document_than_the_stored_one(
    runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    ref = new_act(runtime, atlanta, notary).act.ref

    with pytest.raises(DocumentMismatch) as refused:
        _sign(runtime, notary, ref, secret, shown_sha256="0" * 64)

    assert refused.value.code == "document_different"
    assert _signatures(runtime) == 0


def test_sign_act_past_its_expiry_is_refused_and_nothing_is_stored(
    runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    ref = new_act(
        runtime, atlanta, notary, expires_at=START + timedelta(seconds=20)
    ).act.ref

    with pytest.raises(ActExpired) as refused:
        _sign(runtime, notary, ref, secret)

    assert refused.value.code == "acte_expire"
    assert _signatures(runtime) == 0
    assert events_of(runtime, ref, "acte.signe") == []
    with runtime.db.sessions() as session:
        assert get_act_for_person(session, notary.person_id, ref, LATER).status == (
            "expire"
        )


def test_sign_act_after_a_cancel_is_refused(
    runtime: Runtime, atlanta: Provisioned, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    ref = new_act(runtime, atlanta, notary).act.ref
    with runtime.db.transaction() as session:
        cancel_act(
            session,
            runtime.settings,
            client_id=atlanta.client_id,
            ref=ref,
            now=START,
            actor=Actor(
                kind="client", id=atlanta.client_id, client_id=atlanta.client_id
            ),
        )

    with pytest.raises(ActAlreadyDecided) as refused:
        _sign(runtime, notary, ref, secret)

    assert refused.value.code == "acte_deja_traite"
    assert _signatures(runtime) == 0


def test_refuse_act_records_the_reason_for_the_client(
    runtime: Runtime, api: TestClient, atlanta: Provisioned, notary: Registered
) -> None:
    ref = new_act(runtime, atlanta, notary).act.ref
    with runtime.db.transaction() as session, pytest.raises(InvalidRefusal):
        refuse_act(session, person_id=notary.person_id, ref=ref, reason="  ", now=LATER)

    with runtime.db.transaction() as session:
        refused = refuse_act(
            session,
            person_id=notary.person_id,
            ref=ref,
            reason="Le prix ne correspond pas au compromis.",
            now=LATER,
        )
    read = api.get(f"{ACTS}/{ref}", headers=atlanta.headers).json()

    assert refused.status == "refuse"
    assert read["statut"] == "refuse"
    assert read["motif_refus"] == "Le prix ne correspond pas au compromis."
    [event] = events_of(runtime, ref, "acte.refuse")
    assert json.loads(event.payload)["data"]["motif_refus"] == read["motif_refus"]
    with runtime.db.transaction() as session, pytest.raises(ActAlreadyDecided):
        refuse_act(session, person_id=notary.person_id, ref=ref, reason="x", now=LATER)


def test_a_person_sees_only_the_acts_addressed_to_them(
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    beta: Provisioned,
    beta_person: Registered,
) -> None:
    mine = new_act(runtime, atlanta, notary).act.ref
    soon = new_act(
        runtime, atlanta, notary, expires_at=START + timedelta(days=1)
    ).act.ref
    theirs = new_act(runtime, beta, beta_person).act.ref

    with runtime.db.sessions() as session:
        waiting = list_waiting_for_person(session, notary.person_id, START)
        history = list_for_person(session, notary.person_id, now=START)
        with pytest.raises(ActNotFound):
            get_act_for_person(session, notary.person_id, theirs, START)

    assert [s.act.ref for s in waiting] == [soon, mine]
    assert {s.client_name for s in waiting} == {"Atlanta Assurances"}
    assert {s.act.ref for s in history} == {mine, soon}


def test_two_confirmations_at_once_sign_once(
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret, _ = enrol(runtime, notary)
    state = new_act(runtime, atlanta, notary)
    ref = state.act.ref
    shown = state.act.sha256_source

    # The first confirmation waits, key in hand, until the second has passed
    # its TOTP check too: both then race to store.
    engine_sign = runtime.engine.sign
    first_signing = threading.Event()
    both = threading.Barrier(2, timeout=30)

    def sign_when_both_ready(*args: Any, **kwargs: Any) -> Any:
        first_signing.set()
        both.wait()
        return engine_sign(*args, **kwargs)

    monkeypatch.setattr(runtime.engine, "sign", sign_when_both_ready)
    outcomes: dict[str, object] = {}

    def confirm(name: str, seconds: int) -> None:
        at = START + timedelta(seconds=seconds)
        try:
            outcomes[name] = sign_act(
                runtime,
                person_id=notary.person_id,
                ref=ref,
                totp_code=pyotp.TOTP(secret).at(at),
                shown_sha256=shown,
                request_id=name,
                now=at,
            )
        except SceauError as exc:
            outcomes[name] = exc

    first = threading.Thread(target=confirm, args=("first", 30))
    second = threading.Thread(target=confirm, args=("second", 60))
    first.start()
    assert first_signing.wait(30)
    second.start()
    first.join(60)
    second.join(60)

    errors = [o for o in outcomes.values() if isinstance(o, SceauError)]
    assert len(outcomes) == 2 and len(errors) == 1
    assert errors[0].code == "acte_deja_traite"
    assert _signatures(runtime) == 1
    assert len(events_of(runtime, ref, "acte.signe")) == 1


def _signatures(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(SignatureRecord)) or 0
        )
