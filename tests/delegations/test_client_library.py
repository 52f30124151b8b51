"""The Python client's delegation methods, against the real service on
loopback, at the real time: the envelope below holds at any hour of any day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sceau.client import SceauApiError, SceauClient
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.conftest import Provisioned
from tests.delegations.conftest import DIRECTOR, SIGNED_AT, sign_as_director
from tests.people.conftest import Registered
from tests.people.test_enrolment import enrol
from tests.support.pdfs import one_page_pdf
from tests.support.servers import LiveApp, live_app

ALL_DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveApp]:
    with live_app(runtime.settings, runtime) as app:
        yield app


def test_client_drafts_reads_signs_under_and_is_refused_outside_a_delegation(
    runtime: Runtime, server: LiveApp, atlanta: Provisioned, director: Registered
) -> None:
    secret, _ = enrol(runtime, director)
    today = utcnow().date()
    with SceauClient(server.base_url, atlanta.api_key) as sceau:
        drafted = sceau.draft_delegation(
            code_09=director.code_09,
            types_acte=["police_assurance"],
            montant_max=5_000_000,
            jours=ALL_DAYS,
            heure_debut="00:00",
            heure_fin="24:00",
            valide_du=today - timedelta(days=1),
            valide_au=today + timedelta(days=365),
        )
        ref = drafted["ref_delegation"]
        with pytest.raises(SceauApiError) as not_signed:
            sceau.download_delegation_pdf(ref)
        sign_as_director(runtime, director, ref, secret, SIGNED_AT)

        signed = sceau.sign_delegated(
            code_09=director.code_09,
            nom_signataire=DIRECTOR,
            motif="Police auto n° 77",
            pdf=one_page_pdf(),
            type_acte="police_assurance",
            montant=800_000,
            niveau="B-T",
        )
        with pytest.raises(SceauApiError) as outside:
            sceau.sign_delegated(
                code_09=director.code_09,
                nom_signataire=DIRECTOR,
                motif="Police flotte n° 78",
                pdf=one_page_pdf(),
                type_acte="police_assurance",
                montant=9_000_000,
                niveau="B-T",
            )
        read = sceau.get_delegation(ref)
        listed = sceau.list_delegations(statut="active")
        document = sceau.download_delegation_pdf(ref)

    assert drafted["statut"] == "a_signer"
    assert not_signed.value.code == "delegation_non_signee"
    assert signed.mode == "deleguee" and signed.ref_delegation == ref
    assert signed.pdf_signe.startswith(b"%PDF")
    assert outside.value.status == 403
    assert outside.value.code == "hors_enveloppe"
    assert outside.value.details == {"limite": "montant", "ref_delegation": ref}
    assert read["statut"] == "active"
    assert [item["ref_delegation"] for item in listed] == [ref]
    assert document.startswith(b"%PDF")
