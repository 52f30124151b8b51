"""What ``sceau hsm status`` reports: the module, the token, its slots, the
pool, and the private keys the token holds (never a secret: labels, types,
sizes and the attributes that say the keys cannot leave)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pkcs11
from pkcs11 import TokenFlag

from sceau.hsm.keys import TokenKeys
from sceau.hsm.pool import PooledSession


def token_status(keys: TokenKeys) -> dict[str, Any]:
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
    data["keys"] = [asdict(key) for key in keys.private_keys()]
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
        )
    return "\n".join(lines)
