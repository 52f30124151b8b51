"""The Python client's act methods, against the real service on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest

from sceau.acts.service import sign_act
from sceau.client import SceauApiError, SceauClient
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered
from tests.people.test_enrolment import enrol
from tests.support.pdfs import one_page_pdf
from tests.support.servers import LiveApp, live_app


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveApp]:
    with live_app(runtime.settings, runtime) as app:
        yield app


def test_client_creates_follows_downloads_and_cancels_acts(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, notary: Registered
) -> None:
    secret, _ = enrol(runtime, notary)
    later = START + timedelta(seconds=30)
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        made = sceau.create_act(
            code_09=notary.code_09,
            motif="Acte de vente",
            pdf=one_page_pdf(),
            expire_le=utcnow() + timedelta(days=3),
            niveau="B-T",
        )
        other = sceau.create_act(
            code_09=notary.code_09, motif="Bail", pdf=one_page_pdf()
        )
        with pytest.raises(SceauApiError) as not_signed:
            sceau.download_act_pdf(made["ref_acte"])
        sign_act(
            runtime,
            person_id=notary.person_id,
            ref=made["ref_acte"],
            totp_code=pyotp.TOTP(secret).at(later),
            shown_sha256=made["sha256"],
            request_id="req-web",
            now=later,
        )
        signed = sceau.get_act(made["ref_acte"])
        pdf = sceau.download_act_pdf(made["ref_acte"])
        cancelled = sceau.cancel_act(other["ref_acte"])
        listed = sceau.list_acts(statut="signe", limite=10)
        with pytest.raises(SceauApiError) as unknown:
            sceau.get_act("ACT-20260101-000000")

    assert made["statut"] == "en_attente"
    assert not_signed.value.status == 409 and not_signed.value.code == "acte_non_signe"
    assert signed["statut"] == "signe" and pdf.startswith(b"%PDF")
    assert cancelled["statut"] == "annule"
    assert [a["ref_acte"] for a in listed] == [made["ref_acte"]]
    assert unknown.value.code == "acte_inconnu"
