"""Imports every table so that the metadata (and Alembic) sees them all."""

from sceau.anchoring.models import AnchorRecord
from sceau.auth.models import AuthFailure, HmacNonce
from sceau.clients.models import ApiKey, Client, ClientCertificate, HmacSecret
from sceau.db import Base
from sceau.idempotency.models import IdempotencyKey
from sceau.identities.models import Identity
from sceau.pki.models import IssuedCertificate
from sceau.signing.models import SignatureRecord, SignedDocument

__all__ = [
    "AnchorRecord",
    "ApiKey",
    "AuthFailure",
    "Base",
    "Client",
    "ClientCertificate",
    "HmacNonce",
    "HmacSecret",
    "IdempotencyKey",
    "Identity",
    "IssuedCertificate",
    "SignatureRecord",
    "SignedDocument",
    "WebhookEndpoint",
]
