"""One deployment for the module: nginx, two API processes, two workers and
two anchoring processes on a fresh PostgreSQL schema, with the peers they
talk to on loopback (a webhook receiver, an SMTP server, two OpenTimestamps
calendars and a block header source), and a runtime in the test process on
the same database and data directory, to prepare clients and read results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sceau.runtime import Runtime
from sceau.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.deployment import (
    Deployment,
    copy_data_dir,
    deployment,
)
from tests.support.events import Mailbox, Receiver
from tests.support.ots_calendar import (
    LoopbackCalendar,
    running_calendar,
    running_chain,
)
from tests.support.postgres import postgres_schema

# Low, so that the rate-limit tests need few requests.
AUTH_FAILURE_LIMIT = 6
VERIFICATION_RATE = 4


@dataclass(frozen=True)
class Deployed:
    deployment: Deployment
    runtime: Runtime
    receiver: Receiver
    calendars: list[LoopbackCalendar]

    @property
    def url(self) -> str:
        return self.deployment.url

    @property
    def api_urls(self) -> list[str]:
        return self.deployment.api_urls


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, pki_template: Path
) -> Iterator[Deployed]:
    directory = tmp_path_factory.mktemp("deployment")
    data_dir = copy_data_dir(pki_template, directory / "var")
    receiver = Receiver()
    mailbox = Mailbox()
    try:
        with (
            postgres_schema(POSTGRES_ADMIN_URL) as database_url,
            running_chain() as chain,
            running_calendar(chain) as first,
            running_calendar(chain) as second,
        ):
            env = {
                "SCEAU_ALLOW_HTTP_LOOPBACK_CALLBACKS": "true",
                "SCEAU_AUTH_FAILURE_LIMIT": str(AUTH_FAILURE_LIMIT),
                "SCEAU_VERIFICATION_RATE_PER_MINUTE": str(VERIFICATION_RATE),
                "SCEAU_ANCHOR_CALENDARS": f"{first.url},{second.url}",
                "SCEAU_ANCHOR_HEADER_SOURCE": f"esplora:{chain.url}",
                "SCEAU_ANCHOR_INTERVAL_SECONDS": "0.3",
                "SCEAU_WORKER_POLL_SECONDS": "0.1",
                # Generous: an attempt that timed out would be made again
                # (delivery is at least once), and the machine may be loaded.
                "SCEAU_WORKER_LEASE_SECONDS": "30",
                "SCEAU_WEBHOOK_TIMEOUT_SECONDS": "10",
                "SCEAU_SMTP_TIMEOUT_SECONDS": "10",
                "SCEAU_SMTP_HOST": "127.0.0.1",
                "SCEAU_SMTP_PORT": str(mailbox.port),
                "SCEAU_SMTP_SECURITY": "none",
                "SCEAU_PERSON_ARGON2_MEMORY_KIB": "19456",
                "SCEAU_PERSON_ARGON2_TIME_COST": "2",
            }
            with deployment(directory / "run", data_dir, database_url, env=env) as made:
                settings = Settings(
                    data_dir=data_dir,
                    database_url=database_url,
                    log_format="text",
                    allow_http_loopback_callbacks=True,
                    public_base_url=made.url,
                    smtp_host="127.0.0.1",
                    smtp_port=mailbox.port,
                    smtp_security="none",
                    person_argon2_memory_kib=19456,
                    person_argon2_time_cost=2,
                )
                runtime = Runtime(settings)
                runtime.prepare()
                try:
                    yield Deployed(made, runtime, receiver, [first, second])
                    made.check_alive()
                    assert made.nginx_upstream_errors() == []
                finally:
                    runtime.close()
    finally:
        receiver.close()
        mailbox.close()
