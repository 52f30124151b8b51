"""Imports every table so that the metadata (and Alembic) sees them all."""

import sceau.billing.models
import sceau.console.models  # noqa: F401
from sceau.acts.models import Act, ActDocument
from sceau.anchoring.models import AnchorBatch, AnchorRecord
from sceau.audit.models import AuditAnchor, AuditEntry, AuditHead, AuditRef
from sceau.auth.models import AuthFailure, HmacNonce
from sceau.authority.models import AuthorityMatrix
from sceau.catalogue.models import ActType
from sceau.clients.models import ApiKey, Client, ClientCertificate, HmacSecret
from sceau.db import Base
from sceau.delegations.models import (
    Delegation,
    DelegationDailyUse,
    DelegationDocument,
    DelegationRefusal,
)
from sceau.events.models import Delivery, DeliveryAttempt, Event
from sceau.evidence.models import EvidenceFile
from sceau.idempotency.models import IdempotencyKey
from sceau.identities.models import Identity
from sceau.incidents.models import Incident, IncidentUpdate
from sceau.lifecycle.models import ClientStateChange
from sceau.notifications.models import ClientContact
from sceau.people.models import EnrolmentToken, LoginFailure, Person, RecoveryCode
from sceau.pki.models import IssuedCertificate
from sceau.signing.models import SignatureRecord, SignedDocument
from sceau.sla.models import Heartbeat, RequestMinute  # noqa: F401
from sceau.verification.models import VerificationCount
from sceau.web.models import SigningDraft, WebSession
from sceau.webhooks.models import WebhookEndpoint

__all__ = [
    "Act",
    "ActDocument",
    "ActType",
    "AnchorBatch",
    "AnchorRecord",
    "ApiKey",
    "AuditAnchor",
    "AuditEntry",
    "AuditHead",
    "AuditRef",
    "AuthFailure",
    "AuthorityMatrix",
    "Base",
    "Client",
    "ClientCertificate",
    "ClientContact",
    "ClientStateChange",
    "Delegation",
    "DelegationDailyUse",
    "DelegationDocument",
    "DelegationRefusal",
    "Delivery",
    "DeliveryAttempt",
    "EnrolmentToken",
    "Event",
    "EvidenceFile",
    "HmacNonce",
    "HmacSecret",
    "IdempotencyKey",
    "Identity",
    "Incident",
    "IncidentUpdate",
    "IssuedCertificate",
    "LoginFailure",
    "Person",
    "RecoveryCode",
    "SignatureRecord",
    "SignedDocument",
    "SigningDraft",
    "VerificationCount",
    "WebSession",
    "WebhookEndpoint",
]
