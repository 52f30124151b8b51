"""The evidence PDFs already signed, one per subject and content.

A subject asked again with the same story gets the same signed PDF; a new
story (the anchoring confirmed, the act signed) makes a new row. The table is
created by migration 0018.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime, utcnow


class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (
        UniqueConstraint(
            "subject", "content_sha256", name="uq_evidence_files_subject_content"
        ),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # DPR-…
    # The signature's reference or the act's.
    subject: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # SHA-256 of the story's canonical JSON (``Story.content_sha256``).
    content_sha256: Mapped[str] = mapped_column(String(64))
    # complete (the owner client's and the signer's) or publique (addresses
    # reduced to their network), each version kept and paced on its own.
    diffusion: Mapped[str] = mapped_column(String(12), default="complete")
    # The signed evidence PDF, kept in ``signatures`` / ``signed_documents``
    # like any document Pixel Sceau signs in its own name.
    signature_ref: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
