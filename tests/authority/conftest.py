"""Fixtures for the authority matrix: Atlanta's catalogue, its matrix (the
sheet's insurer: système for certificates, déléguée for routine policies,
humaine for contracts over a threshold), and small factories."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from sceau.audit.actors import Actor
from sceau.authority import service
from sceau.authority.service import MatrixVerdict, MatrixVersion
from sceau.catalogue.service import replace_catalogue
from sceau.runtime import Runtime
from tests.acts.conftest import beta
from tests.conftest import Provisioned
from tests.people.conftest import START, Registered, mailbox, notary, runtime

__all__ = ["beta", "mailbox", "notary", "runtime"]

MATRIX = "/api/v1/sceau/b2b/matrice"
TYPES = "/api/v1/sceau/b2b/types-acte"
TODAY = START.date()
NEXT_REVIEW = date(2027, 11, 30)
THRESHOLD = 5_000_000

KINDS = {
    "attestation": "Attestations de garantie",
    "police_assurance": "Polices d'assurance",
    "contrat_reassurance": "Contrats de réassurance",
}


def set_catalogue(
    runtime: Runtime, client: Provisioned, kinds: dict[str, str] | None = None
) -> dict[str, str]:
    with runtime.db.transaction() as session:
        return replace_catalogue(session, client.client_id, kinds or KINDS, START)


@pytest.fixture
def catalogue(runtime: Runtime, atlanta: Provisioned) -> dict[str, str]:
    return set_catalogue(runtime, atlanta)


def insurer_rules(atlanta: Provisioned, officer: Registered) -> list[dict[str, Any]]:
    """R1 certificates by the system; R2 policies under 5 000 000 FCFA by
    delegation, R3 from 5 000 000 FCFA by the officer in person; R4
    reinsurance contracts of 1 000 000 FCFA and more, by any person (none
    below: a gap)."""
    return [
        {"type_acte": "attestation", "mode": "systeme", "code_09": atlanta.code_09},
        {
            "type_acte": "police_assurance",
            "montant_max": THRESHOLD,
            "mode": "deleguee",
            "code_09": officer.code_09,
        },
        {
            "type_acte": "police_assurance",
            "montant_min": THRESHOLD,
            "mode": "humaine",
            "code_09": officer.code_09,
        },
        {
            "type_acte": "contrat_reassurance",
            "montant_min": 1_000_000,
            "mode": "humaine",
        },
    ]


def publish(
    runtime: Runtime,
    client: Provisioned,
    rules: list[dict[str, Any]],
    *,
    review_due: date = NEXT_REVIEW,
    policy: str = "avertir",
    now: datetime = START,
) -> MatrixVersion:
    with runtime.db.transaction() as session:
        return service.publish(
            session,
            client.client_id,
            rules=rules,
            review_due=review_due,
            overdue_policy=policy,
            author="operateur",
            now=now,
            by=Actor.operator(),
        )


@pytest.fixture
def matrix(
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> MatrixVersion:
    return publish(runtime, atlanta, insurer_rules(atlanta, notary))


def check(
    runtime: Runtime,
    client: Provisioned,
    *,
    mode: str,
    code_09: str,
    act_type: str | None,
    amount: int | None,
    today: date = TODAY,
) -> MatrixVerdict | None:
    with runtime.db.sessions() as session:
        return service.check_request(
            session,
            client.client_id,
            mode=mode,
            code_09=code_09,
            act_type=act_type,
            amount=amount,
            today=today,
        )


def days(n: int) -> timedelta:
    return timedelta(days=n)
