"""The one typed settings object, read from ``SCEAU_*`` environment variables."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sceau.errors import ConfigurationError

MASTER_KEY_FILE = "master.key"
# The public OpenTimestamps calendars the `ots` client also uses by default.
PUBLIC_CALENDARS = (
    "https://a.pool.opentimestamps.org",
    "https://b.pool.opentimestamps.org",
    "https://a.pool.eternitywall.com",
    "https://ots.btc.catallaxy.com",
)
MIN_MASTER_KEY_BYTES = 32


# OWASP's password storage cheat sheet: Argon2id configurations of equal
# strength, as (memory in KiB, passes), each with one lane or more.
ARGON2_OWASP_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


class Settings(BaseSettings):
    """Everything the service can be told, validated once at start."""

    model_config = SettingsConfigDict(env_prefix="SCEAU_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    master_key: SecretStr | None = None
    # The key backups are encrypted under (base64 of 32 bytes): in the
    # environment (SCEAU_BACKUP_KEY) or in a file; see `sceau backup key`.
    backup_key: SecretStr | None = None
    backup_key_file: Path | None = None

    # Limits.
    max_body_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    max_pdf_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    idempotency_lock_seconds: int = Field(default=120, ge=1)
    retention_days: int = Field(default=365, ge=1)

    # Keys and levels.
    default_key_algorithm: Literal["rsa3072", "ecdsa-p256"] = "rsa3072"
    # Where new private keys live: sealed files under the master key, or a
    # PKCS#11 token (docs/operations.md, "Keys in a PKCS#11 token"). The PIN
    # comes from the environment variable named by pkcs11_pin_env, or from
    # pkcs11_pin_file; never from a command line.
    key_store: Literal["file", "pkcs11"] = "file"
    pkcs11_module: Path | None = None
    pkcs11_token: str | None = None
    pkcs11_pin_env: str = "SCEAU_PKCS11_PIN"
    pkcs11_pin_file: Path | None = None
    pkcs11_pool_size: int = Field(default=4, ge=1, le=64)
    default_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = "B-LT"

    # Time-stamping: empty means the embedded TSA, in-process.
    tsa_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    tsa_timeout_seconds: float = Field(default=5.0, gt=0)
    # PEM files of the roots the external TSAs chain to: B-LT and B-LTA must
    # validate the TSA's certificate to embed its revocation data.
    tsa_trust_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    # Events: delivery workers, webhooks and e-mail notices.
    worker_in_serve: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_lease_seconds: int = Field(default=120, ge=1)
    worker_batch_size: int = Field(default=50, ge=1)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    # Seconds to wait before each retry: about three days in all.
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [
            5.0,
            300.0,
            1800.0,
            7200.0,
            18000.0,
            36000.0,
            36000.0,
            86400.0,
            86400.0,
        ]
    )
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0)
    # Development only: lets callback URLs reach loopback, over plain http too.
    allow_http_loopback_callbacks: bool = False
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Pixel Sceau <notifications@cipixel.com>"
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    # A PEM bundle to trust for the SMTP server's certificate (else the system's).
    smtp_ca_file: Path | None = None

    # Anchoring in Bitcoin through OpenTimestamps.
    anchor_calendars: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(PUBLIC_CALENDARS)
    )
    anchor_interval_seconds: float = Field(default=1.0, gt=0)
    anchor_batch_max: int = Field(default=10_000, ge=1)
    anchor_calendar_timeout_seconds: float = Field(default=10.0, gt=0)
    anchor_submit_backoff_max_seconds: float = Field(default=600.0, gt=0)
    anchor_upgrade_min_seconds: float = Field(default=60.0, gt=0)
    anchor_upgrade_max_seconds: float = Field(default=3600.0, gt=0)
    # Where block headers come from: esplora:<url> or bitcoind:<rpc url>.
    anchor_header_source: str = "esplora:https://blockstream.info/api"
    # Runs the anchoring steps in the in-process worker of `sceau serve`.
    anchor_worker_in_serve: bool = True

    # Authentication levels B and C.
    hmac_window_seconds: int = Field(default=300, ge=5, le=3600)
    auth_failure_limit: int = Field(default=20, ge=1)
    auth_failure_window_seconds: int = Field(default=300, ge=1)
    # Set when the service runs behind its mutual-TLS front: the Unix socket
    # the front connects to, the only place whose forwarded headers are read.
    front_socket: Path | None = None

    # People: professionals who sign in their own name (password, then TOTP).
    person_enrolment_hours: float = Field(default=72.0, gt=0, le=720)
    person_password_min_length: int = Field(default=12, ge=12, le=128)
    # Argon2id, never below one of OWASP's equivalent configurations (see
    # ARGON2_OWASP_MINIMUMS); the default is its first, 46 MiB and one pass,
    # about 80 ms of CPU per check on a quiet core (docs/benchmarks.md).
    person_argon2_memory_kib: int = Field(default=47104, ge=7168)
    person_argon2_time_cost: int = Field(default=1, ge=1)
    person_argon2_parallelism: int = Field(default=1, ge=1, le=8)
    person_lock_after_failures: int = Field(default=5, ge=1)
    person_lock_minutes: float = Field(default=15.0, gt=0)
    # Failed logins from one address, whatever account they name.
    person_address_failure_limit: int = Field(default=20, ge=1)
    person_address_failure_window_minutes: float = Field(default=15.0, gt=0)

    # Acts: documents a client prepares for one of its people to sign.
    act_default_days: float = Field(default=7.0, gt=0)
    act_max_days: float = Field(default=90.0, gt=0, le=366)
    # Hours before expiry at which the person is reminded, once each.
    act_reminder_hours: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [24.0]
    )
    # How often each worker loop looks for acts to expire or remind.
    act_sweep_interval_seconds: float = Field(default=60.0, gt=0)

    # How often the audit trail's head is timestamped by the TSA and anchored
    # through OpenTimestamps (once a day by default), and how often a worker
    # loop looks whether that is due.
    audit_anchor_interval_seconds: float = Field(default=86400.0, ge=60)
    audit_anchor_check_seconds: float = Field(default=300.0, gt=0)

    # Integration life cycle: a client in pilot signs at most this many
    # documents a day (unless its agreement sets plafond_pilote), each reason
    # starting with the marker.
    pilot_daily_cap: int = Field(default=200, ge=1)
    pilot_reason_marker: str = Field(default="PILOTE", min_length=1, max_length=40)

    # The web signer's pages: sessions end after this much idleness, and in any
    # case this long after login; an uploaded draft waits this long to be signed.
    web_session_idle_minutes: float = Field(default=15.0, gt=0, le=240)
    web_session_absolute_hours: float = Field(default=12.0, gt=0, le=24)
    web_draft_minutes: float = Field(default=30.0, gt=0, le=240)
    # Pages rendered for review: how many, and how sharp (dots per inch).
    web_preview_max_pages: int = Field(default=30, ge=1, le=500)
    web_preview_dpi: int = Field(default=96, ge=36, le=200)

    # Billing: plan prices in XOF (FCFA), whole francs; months are UTC. See
    # docs/operations.md, "Billing". Enterprise terms are set per client.
    billing_pay_as_you_go_unit_xof: int = Field(default=150, ge=0)
    billing_forfait_fee_xof: int = Field(default=25_000, ge=0)
    billing_forfait_included: int = Field(default=500, ge=0)
    billing_forfait_overage_xof: int = Field(default=100, ge=0)
    billing_free_months: int = Field(default=12, ge=1, le=120)
    billing_after_free_plan: Literal["pay_as_you_go", "forfait"] = "pay_as_you_go"
    # Days before the end of a free period at which the client is told, once
    # each; JSON in the environment (SCEAU_BILLING_FREE_NOTICE_DAYS='[30, 7]').
    billing_free_notice_days: list[int] = Field(default_factory=lambda: [30, 7])

    # Public verification: requests per source address (per /64 in IPv6) and
    # minute, for POST and GET alike.
    verification_rate_per_minute: int = Field(default=30, ge=1)

    # SLA indicators (docs/operations.md, "SLA indicators"). Each API process
    # flushes its request counts, and each worker loop flushes and beats, this
    # often (at least once a minute); /metrics reads the indicators at most
    # once per cache period.
    # Targets per plan and indicator, and the credit of each missed indicator
    # in percent of the month's invoice subtotal (the contractual grid), are
    # JSON in the environment (SCEAU_SLA_TARGETS, SCEAU_SLA_CREDIT_PERCENT).
    sla_chore_seconds: float = Field(default=20.0, gt=0, le=60)
    sla_metrics_cache_seconds: float = Field(default=60.0, ge=0)
    sla_targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            plan: {
                "disponibilite_pct": availability,
                "temps_reponse_api_p95_ms": 800.0,
                "delai_signature_p95_ms": 3000.0,
                "delai_notification_incident_min": 120.0,
                "livraison_webhooks_pct": 99.0,
            }
            for plan, availability in (("forfait", 99.5), ("enterprise", 99.9))
        }
    )
    sla_credit_percent: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: {
            "disponibilite_pct": 10,
            "temps_reponse_api_p95_ms": 5,
            "delai_signature_p95_ms": 5,
            "delai_notification_incident_min": 5,
            # The sheet sets no webhook target, and a delivery fails as often
            # by the client's endpoint as by the service: measured and shown
            # against a target, but no credit unless the agreement sets one.
            "livraison_webhooks_pct": 0,
        }
    )

    @field_validator("sla_targets", "sla_credit_percent")
    @classmethod
    def _known_sla_indicators(cls, value: dict[str, object]) -> dict[str, object]:
        known = (
            "disponibilite_pct",
            "temps_reponse_api_p95_ms",
            "delai_signature_p95_ms",
            "delai_notification_incident_min",
            "livraison_webhooks_pct",
        )
        # Targets are per plan, then per indicator; credits per indicator.
        nested = [v for v in value.values() if isinstance(v, dict)]
        names = [k for entry in nested for k in entry] if nested else list(value)
        for name in names:
            if name not in known:
                raise ValueError(
                    f"unknown SLA indicator {name}: use " + ", ".join(known)
                )
        return value

    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    @field_validator("tsa_urls", "tsa_trust_roots", "anchor_calendars", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        # A comma-separated list reads better in an environment variable than JSON.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_retry_schedule", "act_reminder_hours", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("act_reminder_hours")
    @classmethod
    def _positive_hours(cls, value: list[float]) -> list[float]:
        if any(hours <= 0 for hours in value):
            raise ValueError("reminder hours must be positive")
        # Latest threshold first: reminders are counted in this order.
        return sorted(set(value), reverse=True)

    @model_validator(mode="after")
    def _argon2_meets_owasp(self) -> Settings:
        memory, passes = self.person_argon2_memory_kib, self.person_argon2_time_cost
        if not any(
            memory >= floor_kib and passes >= floor_passes
            for floor_kib, floor_passes in ARGON2_OWASP_MINIMUMS
        ):
            raise ValueError(
                "SCEAU_PERSON_ARGON2_MEMORY_KIB and SCEAU_PERSON_ARGON2_TIME_COST "
                "are below OWASP's Argon2id minimums: use 47104 KiB with 1 pass, "
                "19456 with 2, 12288 with 3, 9216 with 4 or 7168 with 5, or more"
            )
        return self

    @model_validator(mode="after")
    def _act_default_within_max(self) -> Settings:
        if self.act_default_days > self.act_max_days:
            raise ValueError(
                "SCEAU_ACT_DEFAULT_DAYS must not exceed SCEAU_ACT_MAX_DAYS"
            )
        return self

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sceau.db').resolve()}"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    def load_master_key(self) -> bytes:
        """The master key's bytes; in development, created on first use.

        Production refuses to start without an explicit, strong key, and names
        the variable to set.
        """
        if self.master_key is not None:
            return _decode_master_key(self.master_key.get_secret_value())

        if self.environment == "production":
            raise ConfigurationError(
                "SCEAU_MASTER_KEY is required in production: set it to 32 random "
                "bytes in base64 (for example `openssl rand -base64 32`)."
            )

        return _development_master_key(self.data_dir / MASTER_KEY_FILE)


def _decode_master_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            "SCEAU_MASTER_KEY must be base64 (for example `openssl rand -base64 32`)."
        ) from exc
    if len(raw) < MIN_MASTER_KEY_BYTES or len(set(raw)) < 8:
        raise ConfigurationError(
            "SCEAU_MASTER_KEY is too weak: use at least 32 random bytes in base64."
        )
    return raw


def _development_master_key(path: Path) -> bytes:
    if path.exists():
        return _decode_master_key(path.read_text().strip())

    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(secrets.token_bytes(MIN_MASTER_KEY_BYTES)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return base64.b64decode(text)


def check_production_ready(settings: Settings) -> None:
    """Refuse a production start that still runs on development defaults."""
    if settings.environment != "production":
        return
    settings.load_master_key()
    if len(set(settings.anchor_calendars)) < 2:
        raise ConfigurationError(
            "SCEAU_ANCHOR_CALENDARS needs at least two calendars in production, so "
            "that one outage does not stop anchoring."
        )
    if settings.allow_http_loopback_callbacks:
        raise ConfigurationError(
            "SCEAU_ALLOW_HTTP_LOOPBACK_CALLBACKS is for development only: unset it."
        )
    dev_key = settings.data_dir / MASTER_KEY_FILE
    if settings.master_key is not None and dev_key.exists():
        generated = dev_key.read_text().strip()
        if generated == settings.master_key.get_secret_value().strip():
            raise ConfigurationError(
                "SCEAU_MASTER_KEY is the generated development key: set a new "
                "production key."
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
