"""What the SLA measures that no other record keeps: requests per minute, and
the service's own health check, once a minute."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sceau.db import Base, UTCDateTime

# Upper edges, in milliseconds, of the latency buckets; a last bucket takes
# everything slower. 800 and 3000 are the sheet's targets, so that a p95
# read as a bucket's upper edge is compared with them exactly. Changing the
# edges changes the meaning of stored rows: add a migration, never edit.
LATENCY_EDGES_MS = (
    25,
    50,
    100,
    200,
    300,
    400,
    500,
    600,
    800,
    1000,
    1500,
    2000,
    3000,
    5000,
    10000,
)
BUCKET_COLUMNS = (*(f"le_{edge}" for edge in LATENCY_EDGES_MS), "le_inf")

KIND_API = "api"
KIND_SIGNING = "signing"


class RequestMinute(Base):
    """One client's authenticated requests of one kind in one UTC minute.

    Every column but the key is a count, written only by adding to it
    (``requests = requests + excluded.requests``), so that any number of
    processes may flush the same minute.
    """

    __tablename__ = "sla_request_minutes"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    # Answers of status 500 or more: failures on the service's side.
    server_errors: Mapped[int] = mapped_column(Integer, default=0)
    le_25: Mapped[int] = mapped_column(Integer, default=0)
    le_50: Mapped[int] = mapped_column(Integer, default=0)
    le_100: Mapped[int] = mapped_column(Integer, default=0)
    le_200: Mapped[int] = mapped_column(Integer, default=0)
    le_300: Mapped[int] = mapped_column(Integer, default=0)
    le_400: Mapped[int] = mapped_column(Integer, default=0)
    le_500: Mapped[int] = mapped_column(Integer, default=0)
    le_600: Mapped[int] = mapped_column(Integer, default=0)
    le_800: Mapped[int] = mapped_column(Integer, default=0)
    le_1000: Mapped[int] = mapped_column(Integer, default=0)
    le_1500: Mapped[int] = mapped_column(Integer, default=0)
    le_2000: Mapped[int] = mapped_column(Integer, default=0)
    le_3000: Mapped[int] = mapped_column(Integer, default=0)
    le_5000: Mapped[int] = mapped_column(Integer, default=0)
    le_10000: Mapped[int] = mapped_column(Integer, default=0)
    le_inf: Mapped[int] = mapped_column(Integer, default=0)


class Heartbeat(Base):
    """The service's health check in one UTC minute: ``healthy`` stays true
    only while every process that checked in that minute found it healthy."""

    __tablename__ = "sla_heartbeats"

    minute: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    healthy: Mapped[bool] = mapped_column(Boolean)
