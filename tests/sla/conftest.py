"""Helpers of the SLA tests: a second client, plans and dates set on clients,
and the clock of the API frozen in November 2026."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from sceau.clients.models import Client
from sceau.runtime import Runtime
from tests.conftest import Provisioned, provision

NOVEMBER = "2026-11"
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def set_client(
    runtime: Runtime,
    client_id: str,
    *,
    plan: str | None = None,
    created_at: datetime | None = None,
) -> None:
    with runtime.db.transaction() as session:
        client = session.get_one(Client, client_id)
        if plan is not None:
            client.plan = plan
        if created_at is not None:
            client.created_at = created_at


@pytest.fixture
def beta(runtime: Runtime) -> Provisioned:
    """Another client, to show that nothing of one reaches the other."""
    made = provision(
        runtime, name="Beta Banque", label="Beta Banque – production", body="BETABANK"
    )
    set_client(runtime, made.client_id, plan="forfait", created_at=at(1) - _MONTH)
    return made


_MONTH = NOV_1 - datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def forfait(runtime: Runtime, atlanta: Provisioned) -> Provisioned:
    """Atlanta on the monthly plan, a client since October."""
    set_client(runtime, atlanta.client_id, plan="forfait", created_at=at(1) - _MONTH)
    return atlanta


@pytest.fixture
def frozen_api(api: TestClient) -> Callable[[datetime], None]:
    """Freeze the API's clock (which the request counts follow) at a moment."""

    def freeze(moment: datetime) -> None:
        api.app.state.api_clock = lambda: moment  # type: ignore[attr-defined]

    return freeze
