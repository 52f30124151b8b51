"""Delivery workers: claim due deliveries under a lease, make them, record
every attempt, and schedule the retries.

Several workers may run at once, in one process or many, on one database.
A worker claims, in one short transaction, the first pending delivery of
some destinations (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
writer at a time) and, behind each, the next ones to the same destination,
and marks them with its lease. It then delivers them in order, outside any
transaction, and records each outcome only while it still holds the lease. A
worker that dies leaves its lease to expire, and the delivery is taken again:
delivery is at least once, with the same ``webhook-id``.

A destination gets one delivery at a time, in the order of creation: a
delivery waits while an earlier one to the same destination is pending,
retries included.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from sceau.acts.sweeper import sweep_acts
from sceau.audit import anchors as audit_anchors
from sceau.authority import review
from sceau.billing import invoices as billing_invoices
from sceau.billing import notices as billing_notices
from sceau.db import Database
from sceau.errors import ConfigurationError
from sceau.events import types
from sceau.events.metrics import DELIVERY_ATTEMPTS, DELIVERY_DELAY
from sceau.events.models import (
    CHANNEL_EMAIL,
    STATUS_DELIVERED,
    STATUS_FAILED,
    STATUS_PENDING,
    Delivery,
    DeliveryAttempt,
    Event,
)
from sceau.events.schedule import Clock, RetrySchedule, SystemClock
from sceau.events.service import queue_email, record_event
from sceau.notifications.mailer import Mailer, MailNotSent, MailSettings, build_message
from sceau.notifications.models import ClientContact
from sceau.notifications.templates import render_notice
from sceau.ops.loops import failure_reason, outage, step_failed
from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.sla.recorder import sla_chore
from sceau.webhooks.models import WebhookEndpoint
from sceau.webhooks.service import current_secret, disable_endpoint, live_secrets
from sceau.webhooks.signatures import SecretBox, signed_headers
from sceau.webhooks.ssrf import Resolver, system_resolver
from sceau.webhooks.transport import SendResult, WebhookSender

logger = logging.getLogger(__name__)

# How many destinations one claim takes, and how many deliveries behind each.
CLAIM_DESTINATIONS = 16
# How many successful attempts one commit records.
RECORD_BATCH = 20


@dataclass
class _Claimed:
    """What one attempt needs, read in the claim transaction."""

    seq: int
    id: str
    channel: str
    attempts: int
    event_id: str
    event_type: str
    event_created_at: datetime
    payload: str
    client_id: str
    client_name: str
    endpoint_id: str | None
    url: str | None
    secrets: list[str]
    recipient: str | None
    lease_expires_at: datetime


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    gone: bool = False
    permanent: bool = False


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        box: SecretBox,
        *,
        clock: Clock | None = None,
        schedule: RetrySchedule | None = None,
        resolver: Resolver = system_resolver,
        sender: WebhookSender | None = None,
        mailer: Mailer | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.box = box
        self.clock = clock or SystemClock()
        self.schedule = schedule or RetrySchedule(settings.webhook_retry_schedule)
        self.sender = sender or WebhookSender(
            timeout_seconds=settings.webhook_timeout_seconds,
            allow_http_loopback=settings.allow_http_loopback_callbacks,
            resolver=resolver,
        )
        self.mailer = mailer or Mailer(MailSettings.of(settings))
        self.mail_domain = MailSettings.of(settings).domain
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=settings.worker_lease_seconds)
        # An attempt may take a connect and a read timeout; one is started
        # only while the lease outlasts that, so that no other worker can
        # take the delivery while it is in flight.
        slowest = max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds)
        self.attempt_budget = timedelta(seconds=2 * slowest + 1)
        if self.lease <= self.attempt_budget:
            raise ConfigurationError(
                "SCEAU_WORKER_LEASE_SECONDS must exceed twice the longest of "
                "SCEAU_WEBHOOK_TIMEOUT_SECONDS and SCEAU_SMTP_TIMEOUT_SECONDS, "
                "plus one second"
            )
        self.run_length = settings.worker_batch_size
        # Opened secrets of the endpoints of the current claim.
        self._secrets: dict[str, list[str]] = {}

    @classmethod
    def for_runtime(
        cls,
        runtime: Runtime,
        *,
        clock: Clock | None = None,
        schedule: RetrySchedule | None = None,
        resolver: Resolver = system_resolver,
        worker_id: str | None = None,
    ) -> DeliveryWorker:
        box = SecretBox(runtime.settings.load_master_key())
        return cls(
            runtime.db,
            runtime.settings,
            box,
            clock=clock,
            schedule=schedule,
            resolver=resolver,
            worker_id=worker_id,
        )

    # -- one step --------------------------------------------------------------

    def run_once(self) -> int:
        """Claim what is due now, deliver it, record it; the attempts made."""
        token = secrets.token_hex(8)
        runs = self._claim(token)
        made = 0
        for run in runs:
            done: list[tuple[_Claimed, _Outcome, datetime]] = []
            for index, claimed in enumerate(run):
                if not self._lease_allows_attempt(token, run[index:]):
                    break
                outcome = self._attempt(claimed)
                made += 1
                done.append((claimed, outcome, self.clock.now()))
                # Successes are written together (one commit for several);
                # a failure is written at once, and ends the run.
                if outcome.ok and len(done) < RECORD_BATCH:
                    continue
                keep_going = self._record(token, done)
                done = []
                if not keep_going:
                    self._release(token, run[index + 1 :])
                    break
            if done:
                self._record(token, done)
        return made

    def close(self) -> None:
        self.sender.close()

    # -- claiming --------------------------------------------------------------

    def _claim(self, token: str) -> list[list[_Claimed]]:
        now = self.clock.now()
        expires = now + self.lease
        earlier = aliased(Delivery)
        waiting_behind = (
            select(earlier.seq)
            .where(
                earlier.destination == Delivery.destination,
                earlier.status == STATUS_PENDING,
                earlier.seq < Delivery.seq,
            )
            .exists()
        )
        unleased = or_(
            Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at <= now
        )
        runs: list[list[_Claimed]] = []
        self._secrets = {}
        with self.db.transaction() as session:
            heads = session.scalars(
                select(Delivery)
                .where(
                    Delivery.status == STATUS_PENDING,
                    Delivery.next_attempt_at <= now,
                    unleased,
                    ~waiting_behind,
                )
                .order_by(Delivery.seq)
                .limit(CLAIM_DESTINATIONS)
                .with_for_update(skip_locked=True, of=Delivery)
            ).all()
            endpoints: dict[str, WebhookEndpoint] = {}
            claimed_runs: list[list[Delivery]] = []
            for head in heads:
                run = [head]
                if self.run_length > 1:
                    # Behind a head only its claimer goes, so these are locked
                    # without skipping: a gap would break the order.
                    followers = session.scalars(
                        select(Delivery)
                        .where(
                            Delivery.destination == head.destination,
                            Delivery.status == STATUS_PENDING,
                            Delivery.seq > head.seq,
                        )
                        .order_by(Delivery.seq)
                        .limit(self.run_length - 1)
                        .with_for_update(of=Delivery)
                    ).all()
                    for follower in followers:
                        leased = (
                            follower.lease_expires_at is not None
                            and follower.lease_expires_at > now
                        )
                        if follower.next_attempt_at > now or leased:
                            break
                        run.append(follower)
                for delivery in run:
                    delivery.lease_token = token
                    delivery.lease_expires_at = expires
                claimed_runs.append(run)
            # One query for the events of the whole claim, into the identity
            # map, rather than one per delivery.
            seqs = {d.event_seq for run in claimed_runs for d in run}
            if seqs:
                session.scalars(select(Event).where(Event.seq.in_(seqs))).all()
            for run in claimed_runs:
                runs.append(
                    [self._describe(session, d, endpoints, now, expires) for d in run]
                )
        return runs

    def _describe(
        self,
        session: Session,
        delivery: Delivery,
        endpoints: dict[str, WebhookEndpoint],
        now: datetime,
        expires: datetime,
    ) -> _Claimed:
        event = session.get_one(Event, delivery.event_seq)
        contact = session.get_one(ClientContact, delivery.client_id)
        url: str | None = None
        found_secrets: list[str] = []
        if delivery.endpoint_id is not None:
            endpoint = endpoints.get(delivery.endpoint_id) or session.get_one(
                WebhookEndpoint, delivery.endpoint_id
            )
            url = endpoint.url
            if endpoint.id not in endpoints:
                current_secret(session, self.box, endpoint)
                self._secrets[endpoint.id] = live_secrets(self.box, endpoint, now)
                endpoints[endpoint.id] = endpoint
            found_secrets = self._secrets[endpoint.id]
        return _Claimed(
            seq=delivery.seq,
            id=delivery.id,
            channel=delivery.channel,
            attempts=delivery.attempts,
            event_id=event.id,
            event_type=event.type,
            event_created_at=event.created_at,
            payload=event.payload,
            client_id=delivery.client_id,
            client_name=contact.name,
            endpoint_id=delivery.endpoint_id,
            url=url,
            secrets=found_secrets,
            recipient=delivery.recipient,
            lease_expires_at=expires,
        )

    def _lease_allows_attempt(self, token: str, rest: list[_Claimed]) -> bool:
        # The lease was taken with the claim's clock reading; what is left of
        # it must cover one whole attempt.
        if self.clock.now() + self.attempt_budget < rest[0].lease_expires_at:
            return True
        self._release(token, rest)
        return False

    def _release(self, token: str, rest: list[_Claimed]) -> None:
        if not rest:
            return
        with self.db.transaction() as session:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.seq.in_([c.seq for c in rest]),
                    Delivery.lease_token == token,
                )
                .values(lease_token=None, lease_expires_at=None)
            )

    # -- one attempt -----------------------------------------------------------

    def _attempt(self, claimed: _Claimed) -> _Outcome:
        if claimed.channel == CHANNEL_EMAIL:
            return self._send_email(claimed)
        return self._send_webhook(claimed)

    def _send_webhook(self, claimed: _Claimed) -> _Outcome:
        assert claimed.url is not None
        body = claimed.payload.encode()
        # The timestamp is the attempt's real time, whatever clock schedules
        # the retries: receivers compare it with their own clock.
        timestamp = int(SystemClock().now().timestamp())
        headers = signed_headers(claimed.secrets, claimed.event_id, timestamp, body)
        result: SendResult = self.sender.send(claimed.url, body, headers)
        return _Outcome(
            ok=result.ok,
            status=result.status,
            error=result.error,
            duration_ms=result.duration_ms,
            retry_after=result.retry_after_seconds,
            gone=result.gone,
        )

    def _send_email(self, claimed: _Claimed) -> _Outcome:
        assert claimed.recipient is not None
        started = time.perf_counter()
        event = json.loads(claimed.payload)
        notice = render_notice(
            event_type=claimed.event_type,
            event_id=claimed.event_id,
            timestamp=event["timestamp"],
            data=event["data"],
            client_name=claimed.client_name,
        )
        message = build_message(
            notice,
            sender=self.mailer.config.sender,
            to=claimed.recipient,
            message_id=f"<{claimed.id}@{self.mail_domain}>",
        )
        try:
            self.mailer.send(message)
        except MailNotSent as exc:
            return _Outcome(
                False,
                None,
                exc.reason,
                round((time.perf_counter() - started) * 1000),
                permanent=exc.permanent,
            )
        return _Outcome(True, None, None, round((time.perf_counter() - started) * 1000))

    # -- recording -------------------------------------------------------------

    def _record(
        self, token: str, done: list[tuple[_Claimed, _Outcome, datetime]]
    ) -> bool:
        """Write attempts and what follows from them, in one transaction; True
        to go on with the destination's next delivery.

        A worker that dies before this commit leaves those deliveries to its
        lease: they are made again (at least once, same ``webhook-id``).
        """
        keep_going = True
        with self.db.transaction() as session:
            if all(outcome.ok for _, outcome, _ in done):
                self._record_successes(session, token, done)
                return True
            for claimed, outcome, now in done:
                keep_going = self._apply(session, token, claimed, outcome, now)
        return keep_going

    def _record_successes(
        self,
        session: Session,
        token: str,
        done: list[tuple[_Claimed, _Outcome, datetime]],
    ) -> None:
        """The common case in a few statements, whatever the batch's size."""
        session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "delivery_seq": claimed.seq,
                    "number": claimed.attempts + 1,
                    "worker": self.worker_id,
                    "started_at": now - timedelta(milliseconds=outcome.duration_ms),
                    "duration_ms": outcome.duration_ms,
                    "succeeded": True,
                    "http_status": outcome.status,
                    "error": None,
                }
                for claimed, outcome, now in done
            ],
        )
        for claimed, outcome, now in done:
            # Guarded by the lease: a delivery another worker took over after
            # our lease ran out keeps the state that worker gives it.
            updated = session.execute(
                update(Delivery)
                .where(
                    Delivery.seq == claimed.seq,
                    Delivery.lease_token == token,
                    Delivery.status == STATUS_PENDING,
                )
                .values(
                    status=STATUS_DELIVERED,
                    delivered_at=now,
                    attempts=claimed.attempts + 1,
                    last_status=outcome.status,
                    last_error=None,
                    lease_token=None,
                    lease_expires_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(updated, "rowcount", 1):
                logger.warning(
                    "delivery.lease_lost",
                    extra={"delivery": claimed.id, "worker": self.worker_id},
                )
            DELIVERY_ATTEMPTS.labels(claimed.channel, "succes").inc()
            DELIVERY_DELAY.labels(claimed.event_type).observe(
                max(0.0, (now - claimed.event_created_at).total_seconds())
            )
        endpoint_ids = {c.endpoint_id for c, _, _ in done if c.endpoint_id}
        if endpoint_ids:
            session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id.in_(endpoint_ids),
                    WebhookEndpoint.failing_since.is_not(None),
                )
                .values(failing_since=None)
                .execution_options(synchronize_session=False)
            )
        logger.info(
            "delivery.delivered",
            extra={"deliveries": len(done), "worker": self.worker_id},
        )

    def _apply(
        self,
        session: Session,
        token: str,
        claimed: _Claimed,
        outcome: _Outcome,
        now: datetime,
    ) -> bool:
        DELIVERY_ATTEMPTS.labels(
            claimed.channel, "succes" if outcome.ok else "echec"
        ).inc()
        delivery = session.get_one(Delivery, claimed.seq, with_for_update=True)
        session.add(
            DeliveryAttempt(
                delivery_seq=claimed.seq,
                number=delivery.attempts + 1,
                worker=self.worker_id,
                started_at=now - timedelta(milliseconds=outcome.duration_ms),
                duration_ms=outcome.duration_ms,
                succeeded=outcome.ok,
                http_status=outcome.status,
                error=outcome.error,
            )
        )
        if delivery.lease_token != token or delivery.status != STATUS_PENDING:
            # Our lease ran out and another worker has the delivery now (or
            # it was abandoned meanwhile): the attempt is on record, the
            # delivery's state is theirs.
            logger.warning(
                "delivery.lease_lost",
                extra={"delivery": claimed.id, "worker": self.worker_id},
            )
            return False

        delivery.attempts += 1
        delivery.last_status = outcome.status
        delivery.last_error = outcome.error
        delivery.lease_token = None
        delivery.lease_expires_at = None
        endpoint = (
            session.get(WebhookEndpoint, claimed.endpoint_id)
            if claimed.endpoint_id
            else None
        )

        if outcome.ok:
            delivery.status = STATUS_DELIVERED
            delivery.delivered_at = now
            if endpoint is not None:
                endpoint.failing_since = None
            DELIVERY_DELAY.labels(claimed.event_type).observe(
                max(0.0, (now - claimed.event_created_at).total_seconds())
            )
            logger.info(
                "delivery.delivered",
                extra={
                    "delivery": claimed.id,
                    "event": claimed.event_id,
                    "type": claimed.event_type,
                    "channel": claimed.channel,
                    "attempt": delivery.attempts,
                    "duration_ms": outcome.duration_ms,
                },
            )
            return True

        if outcome.gone and endpoint is not None:
            delivery.status = STATUS_FAILED
            self._disable(session, endpoint, "réponse 410 Gone", now)
            return False

        delay = (
            None
            if outcome.permanent
            else self.schedule.next_delay(delivery.attempts, outcome.retry_after)
        )
        if delay is None:
            delivery.status = STATUS_FAILED
        else:
            delivery.next_attempt_at = now + delay
        logger.warning(
            "delivery.failed",
            extra={
                "delivery": claimed.id,
                "event": claimed.event_id,
                "channel": claimed.channel,
                "attempt": delivery.attempts,
                "status": outcome.status,
                "error": outcome.error,
                "retry_in_s": delay.total_seconds() if delay else None,
            },
        )
        if endpoint is not None:
            self._note_failure(session, endpoint, now)
        return False

    def _note_failure(
        self, session: Session, endpoint: WebhookEndpoint, now: datetime
    ) -> None:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            return
        limit = timedelta(days=self.settings.webhook_disable_after_days)
        if now - endpoint.failing_since >= limit and endpoint.active:
            days = self.settings.webhook_disable_after_days
            self._disable(session, endpoint, f"en échec depuis {days:g} jours", now)

    def _disable(
        self, session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime
    ) -> None:
        if not endpoint.active:
            return
        disable_endpoint(session, endpoint, reason, now)
        logger.warning(
            "webhook.disabled",
            extra={"endpoint": endpoint.id, "client_id": endpoint.client_id},
        )
        event = record_event(
            session,
            client_id=endpoint.client_id,
            type=types.WEBHOOK_DESACTIVE,
            data={"webhook": endpoint.id, "url": endpoint.url, "motif": reason},
            subject=endpoint.id,
            webhooks=False,
            now=now,
        )
        contact = session.get_one(ClientContact, endpoint.client_id)
        if contact.contact_email:
            queue_email(session, event, contact.contact_email, now=now)
        else:
            logger.warning(
                "webhook.disabled_without_contact",
                extra={"client_id": endpoint.client_id},
            )


@dataclass(frozen=True)
class Chore:
    """Periodic work a worker loop does beside the deliveries; safe to run in
    several processes at once."""

    name: str
    every_seconds: float
    run: Callable[[], object]


def standard_chores(db: Database, settings: Settings) -> list[Chore]:
    """What every worker loop runs: acts expired and reminded, notices, the
    SLA's figures, invoices' PDFs, and the audit trail's anchoring."""
    return [
        Chore(
            "acts.sweep",
            settings.act_sweep_interval_seconds,
            lambda: sweep_acts(db, settings),
        ),
        Chore(
            "authority.review_notices",
            review.SWEEP_SECONDS,
            lambda: review.send_review_notices(db),
        ),
        Chore(
            "billing.free_periods",
            billing_notices.SWEEP_SECONDS,
            lambda: billing_notices.sweep(db, settings),
        ),
        Chore("sla.record", settings.sla_chore_seconds, sla_chore(db, settings)),
        Chore(
            "billing.invoice_pdfs",
            billing_invoices.PDF_SWEEP_SECONDS,
            billing_invoices.pdf_chore(db, settings),
        ),
        Chore(
            "audit.anchor",
            settings.audit_anchor_check_seconds,
            audit_anchors.anchor_chore(db, settings),
        ),
    ]


class BackgroundWorker:
    """A worker's loop in a thread: ``sceau serve``'s own, and ``sceau worker``'s.

    Between delivery steps it runs its ``chores`` when due (by default the
    ``standard_chores``).
    """

    def __init__(
        self,
        worker: DeliveryWorker,
        poll_seconds: float,
        chores: Sequence[Chore] | None = None,
    ) -> None:
        self.worker = worker
        self.poll_seconds = poll_seconds
        self.chores = list(
            standard_chores(worker.db, worker.settings) if chores is None else chores
        )
        self._next_chore: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, name="sceau-delivery-worker", daemon=True
        )
        self._thread.start()

    def run(self) -> None:
        logger.info("worker.started", extra={"worker": self.worker.worker_id})
        failures = 0
        while not self._stop.is_set():
            self._run_due_chores()
            try:
                made = self.worker.run_once()
            except Exception as exc:
                # The database may be away for a moment; the loop must outlive
                # it, and leases make a half-done step safe to redo.
                failures += 1
                self._stop.wait(step_failed(logger, "worker", exc, failures))
                continue
            if failures:
                logger.warning("worker.recovered", extra={"failed_steps": failures})
                failures = 0
            if made == 0:
                self._stop.wait(self.poll_seconds)
        self.worker.close()
        logger.info("worker.stopped", extra={"worker": self.worker.worker_id})

    def _run_due_chores(self) -> None:
        moment = time.monotonic()
        for chore in self.chores:
            if self._next_chore.get(chore.name, 0.0) > moment:
                continue
            self._next_chore[chore.name] = moment + chore.every_seconds
            try:
                chore.run()
            except Exception as exc:
                # As for deliveries: the loop outlives a failed step, and the
                # chore's conditional updates make it safe to run again. An
                # outage (the database away, the token) is no bug: one line
                # with its code, no trace (but for a deadlock or a timeout,
                # which may hide one).
                failure = outage(exc)
                extra = {
                    "chore": chore.name,
                    "code": failure.code if failure is not None else "erreur_interne",
                    "reason": failure_reason(exc, failure),
                }
                if failure is None or failure.log_trace:
                    logger.exception("worker.chore_failed", extra=extra)
                else:
                    logger.warning("worker.chore_failed", extra=extra)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
