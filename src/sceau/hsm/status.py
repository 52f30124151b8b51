"""What ``sceau hsm status`` reports: the module, the token, its slots, the
pool, and the private keys the token holds (never a secret: labels, types,
sizes and the attributes that say the keys cannot leave)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from pkcs11 import TokenFlag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sceau.db import make_engine
from sceau.hsm.keys import TokenKeys, key_id_of
from sceau.hsm.pool import PooledSession
from sceau.settings import Settings

logger = logging.getLogger(__name__)


def referenced_keys(settings: Settings) -> set[tuple[str, str]] | None:
    """(label, id in hex) of every token key the service refers to: the
    PKI's ``*.key.pkcs11`` files and the identities' rows; None when the
    database cannot be read (the check is then left out)."""
    found: set[tuple[str, str]] = set()
    for path in settings.pki_dir.rglob("*.key.pkcs11"):
        reference = json.loads(path.read_text())
        found.add((str(reference["label"]), str(reference["id"])))
    url = settings.resolved_database_url
    if (
        url.startswith("sqlite:///")
        and not Path(url.removeprefix("sqlite:///")).exists()
    ):
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT key_label, certificate_der FROM identities "
                    "WHERE key_label IS NOT NULL"
                )
            ).all()
    except SQLAlchemyError as exc:
        logger.warning(
            "hsm.status_database_unread", extra={"reason": type(exc).__name__}
        )
        return None
    finally:
        engine.dispose()
    for label, certificate_der in rows:
        public_key = x509.load_der_x509_certificate(certificate_der).public_key()
        found.add((label, key_id_of(public_key).hex()))  # type: ignore[arg-type]
    return found


def token_status(
    keys: TokenKeys, referenced: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """``referenced`` (see ``referenced_keys``) marks each key ``referenced``
    true or false; without it, the flag is null."""
    pool = keys.pool

    def read(pooled: PooledSession) -> dict[str, Any]:
        lib = pool.module.lib
        token = pooled.session.token
        slots = lib.get_slots()
        initialised = 0
        for slot in slots:
            try:
                if slot.get_token().flags & TokenFlag.TOKEN_INITIALIZED:
                    initialised += 1
            except (pkcs11.TokenNotPresent, pkcs11.TokenNotRecognised):
                continue
        return {
            "module": {
                "path": str(pool.config.module),
                "manufacturer": lib.manufacturer_id,
                "description": lib.library_description,
                "version": ".".join(map(str, lib.library_version)),
                "cryptoki": ".".join(map(str, lib.cryptoki_version)),
            },
            "token": {
                "label": token.label,
                "serial": token.serial.decode("ascii", "replace").strip(),
                "manufacturer": token.manufacturer_id,
                "model": token.model,
                "login_required": bool(token.flags & TokenFlag.LOGIN_REQUIRED),
                "slot": token.slot.slot_description,
            },
            "slots": {"total": len(slots), "free": len(slots) - initialised},
        }

    data = pool.run(read, what="status")
    data["pool"] = {"size": pool.size, "logins": pool.logins}
    data["keys"] = [
        {
            **asdict(key),
            "referenced": (
                None if referenced is None else (key.label, key.key_id) in referenced
            ),
        }
        for key in keys.private_keys()
    ]
    return data


def status_text(data: dict[str, Any]) -> str:
    module, token = data["module"], data["token"]
    lines = [
        f"module\t{module['path']}\t{module['manufacturer']} "
        f"{module['description']} {module['version']} (PKCS#11 {module['cryptoki']})",
        f"token\t{token['label']}\tserial {token['serial']}\t{token['manufacturer']} "
        f"{token['model']}",
        f"slots\t{data['slots']['total']} in all, {data['slots']['free']} free",
        f"pool\t{data['pool']['size']} sessions, {data['pool']['logins']} login(s)",
        f"keys\t{len(data['keys'])}",
    ]
    for key in data["keys"]:
        lines.append(
            f"  {key['label']}\t{key['key_type']} {key['size']}\tid {key['key_id']}"
            f"\tsensitive={str(key['sensitive']).lower()}"
            f"\textractable={str(key['extractable']).lower()}"
            + (
                "\tUNREFERENCED: no identity or CA uses it"
                if key["referenced"] is False
                else ""
            )
        )
    return "\n".join(lines)
