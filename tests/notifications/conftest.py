"""The event fixtures (receiver, SMTP server, loopback runtime)."""

from tests.events.conftest import mailbox, receiver, runtime

__all__ = ["mailbox", "receiver", "runtime"]
