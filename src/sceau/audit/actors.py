"""Who did what: a client's system (with how it proved it), a person, a user
of the console, an operator at the command line, or the service itself."""

from __future__ import annotations

import getpass
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sceau.auth.service import AuthenticatedClient

KIND_CLIENT = "client"
KIND_PERSON = "personne"
KIND_CONSOLE_USER = "utilisateur_console"
KIND_OPERATOR = "operateur"
KIND_SERVICE = "service"
# Someone on the public pages, known by nothing but what they brought.
KIND_VISITOR = "visiteur"
# Someone who tried to log in under no account the service knows.
KIND_UNKNOWN = "inconnu"


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str
    client_id: str | None = None
    # A client's system: the API key, the level it authenticated at, and
    # the HMAC key or the certificate that proved it, by reference only.
    key_id: str | None = None
    level: str | None = None
    hmac_key_id: str | None = None
    certificate_fingerprint: str | None = None
    person_id: str | None = None
    # The address the request came from. The trail is evidence, not a log:
    # the full address is what a court may need.
    address: str | None = None

    @classmethod
    def for_client(
        cls, client: AuthenticatedClient, address: str | None = None
    ) -> Actor:
        return cls(
            kind=KIND_CLIENT,
            id=client.client_id,
            client_id=client.client_id,
            key_id=client.api_key_id,
            level=client.level,
            hmac_key_id=client.hmac_key_id,
            certificate_fingerprint=client.certificate_fingerprint,
            address=address,
        )

    @classmethod
    def person(
        cls, code_09: str, person_id: str | None = None, address: str | None = None
    ) -> Actor:
        return cls(kind=KIND_PERSON, id=code_09, person_id=person_id, address=address)

    @classmethod
    def console_user(
        cls, user_id: str, client_id: str | None, address: str | None = None
    ) -> Actor:
        return cls(
            kind=KIND_CONSOLE_USER, id=user_id, client_id=client_id, address=address
        )

    @classmethod
    def operator(cls, name: str | None = None) -> Actor:
        return cls(kind=KIND_OPERATOR, id=name or _operator_name())

    @classmethod
    def visitor(cls, address: str | None = None) -> Actor:
        """A visitor of the public verification page; ``address`` is masked
        by the caller (a stranger's full address is not evidence of anything
        the trail needs)."""
        return cls(kind=KIND_VISITOR, id="verification-publique", address=address)

    @classmethod
    def unknown(cls, address: str | None = None) -> Actor:
        """Whoever tried an account that does not exist: never a person's
        identity, since what they typed may be someone else's, or a secret."""
        return cls(kind=KIND_UNKNOWN, id="inconnu", address=address)

    @classmethod
    def service(cls, name: str = "pixel-sceau") -> Actor:
        return cls(kind=KIND_SERVICE, id=name)

    def as_json(self) -> dict[str, Any]:
        """The fields that are set, under the names the trail stores."""
        return {name: value for name, value in asdict(self).items() if value}


def _operator_name() -> str:
    named = os.environ.get("SCEAU_OPERATOR", "").strip()
    if named:
        return named[:64]
    try:
        return getpass.getuser()[:64]
    except (KeyError, OSError):
        # No user name for this uid (a container): the uid still says who.
        return f"uid-{os.getuid()}"
