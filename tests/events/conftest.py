"""Fixtures for event tests: a runtime that may call loopback receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sceau.runtime import Runtime
from tests.support.events import Mailbox, Receiver, event_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    server = Mailbox()
    yield server
    server.close()


@pytest.fixture
def runtime(data_dir: Path, database_url: str, mailbox: Mailbox) -> Iterator[Runtime]:
    """The shared runtime fixture, with loopback callbacks allowed for the
    receiver and the SMTP server on loopback."""
    settings = event_settings(
        data_dir, database_url, smtp_host="127.0.0.1", smtp_port=mailbox.port
    )
    made = Runtime(settings)
    made.prepare()
    yield made
    made.close()
