"""Fixtures for people: a runtime whose e-mails reach a real SMTP server, the
cheapest Argon2id cost the settings allow, and a registered notary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sceau.audit.actors import Actor
from sceau.events.worker import DeliveryWorker
from sceau.people.service import Invitation, create_person
from sceau.runtime import Runtime
from sceau.webhooks.signatures import SecretBox
from tests.conftest import Provisioned
from tests.events.conftest import mailbox
from tests.support.events import Mailbox, SteppedClock, drain, event_settings

__all__ = ["mailbox"]

# Mid-step of a 30-second TOTP window, so that small moves stay in one step.
START = datetime(2026, 12, 4, 9, 0, 15, tzinfo=UTC)


@pytest.fixture
def runtime(data_dir: Path, database_url: str, mailbox: Mailbox) -> Iterator[Runtime]:
    settings = event_settings(
        data_dir,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        public_base_url="https://sceau.example.ci/",
        person_argon2_memory_kib=19456,
        person_argon2_time_cost=2,
    )
    made = Runtime(settings)
    made.prepare()
    yield made
    made.close()


@dataclass(frozen=True)
class Registered:
    person_id: str
    code_09: str
    email: str
    token: str


def register(
    runtime: Runtime,
    client: Provisioned,
    *,
    name: str = "Maître Aminata Koné",
    email: str = "a.kone@notaires.example.ci",
    profession: str = "notaire",
    now: datetime = START,
) -> Registered:
    with runtime.db.transaction() as session:
        made: Invitation = create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name=name,
            email=email,
            profession=profession,
            client_id=client.client_id,
            algorithm="ecdsa-p256",
            now=now,
            by=Actor.operator(),
        )
    token = made.link.rsplit("/", 1)[1]
    return Registered(made.person.id, made.person.code_09, made.person.email, token)


@pytest.fixture
def notary(runtime: Runtime, atlanta: Provisioned) -> Registered:
    return register(runtime, atlanta)


def deliver_mail(runtime: Runtime, at: datetime) -> None:
    """Run the outbox worker as if it were ``at`` (the notices' time or later)."""
    clock = SteppedClock()
    clock.moment = at + timedelta(seconds=1)
    box = SecretBox(runtime.settings.load_master_key())
    drain(DeliveryWorker(runtime.db, runtime.settings, box, clock=clock))
