"""Fixtures for acts: the people's runtime (real SMTP server, public base
URL), an enrolled notary of Atlanta, and small factories."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.acts.models import Act
from sceau.acts.service import NewAct, create_act
from sceau.acts.states import ActState
from sceau.audit.actors import Actor
from sceau.events.models import Event
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision
from tests.people.conftest import START, Registered, mailbox, notary, register, runtime
from tests.support.pdfs import one_page_pdf

__all__ = ["mailbox", "notary", "runtime"]

ACTS = "/api/v1/sceau/b2b/actes"
REASON = "Acte de vente, lot 12, résidence Les Palmiers"


@pytest.fixture
def beta(runtime: Runtime) -> Provisioned:
    """A second client, to show that acts stay with their own."""
    return provision(
        runtime, name="Bêta Immobilier", label="Bêta – production", body="BETASYS"
    )


@pytest.fixture
def beta_person(runtime: Runtime, beta: Provisioned) -> Registered:
    return register(
        runtime, beta, name="Maître Yao Kouassi", email="y.kouassi@beta.example.ci"
    )


def act_body(
    code_09: str, pdf: bytes | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code_09": code_09,
        "motif": REASON,
        "pdf_b64": base64.b64encode(pdf or one_page_pdf()).decode(),
        "niveau": "B-T",
    }
    body.update(overrides)
    return body


def post_act(
    api: TestClient, client: Provisioned, code_09: str, **overrides: Any
) -> Any:
    return api.post(ACTS, json=act_body(code_09, **overrides), headers=client.headers)


def new_act(
    runtime: Runtime,
    client: Provisioned,
    person: Registered,
    *,
    now: datetime = START,
    **overrides: Any,
) -> ActState:
    """An act made by the service itself, at a frozen ``now``."""
    fields: dict[str, Any] = {
        "code_09": person.code_09,
        "reason": REASON,
        "pdf": one_page_pdf(),
        "level": "B-T",
    }
    fields.update(overrides)
    return create_act(
        runtime,
        NewAct(**fields),
        client_id=client.client_id,
        request_id="req-test",
        now=now,
        actor=Actor(kind="client", id=client.client_id, client_id=client.client_id),
    )


def sha256_of(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


def events_of(runtime: Runtime, ref: str, type: str | None = None) -> list[Event]:
    query = select(Event).where(Event.subject == ref).order_by(Event.seq)
    if type is not None:
        query = query.where(Event.type == type)
    with runtime.db.sessions() as session:
        return list(session.scalars(query))


def act_row(runtime: Runtime, ref: str) -> Act:
    with runtime.db.sessions() as session:
        return session.get_one(Act, ref)
