"""Which module, which token and where the PIN comes from, read from the
settings. The PIN is read when the pool logs in, never kept in the settings
object, never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sceau.errors import ConfigurationError
from sceau.secret_files import read_secret_file
from sceau.settings import Settings


@dataclass(frozen=True)
class TokenConfig:
    module: Path
    token_label: str
    pin_env: str
    pin_file: Path | None
    pool_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenConfig | None:
        """The token's configuration, or None when no module is set."""
        if settings.pkcs11_module is None:
            if settings.key_store == "pkcs11":
                raise ConfigurationError(
                    "SCEAU_KEY_STORE=pkcs11 needs SCEAU_PKCS11_MODULE (the path of "
                    "the PKCS#11 library) and SCEAU_PKCS11_TOKEN (the token label)."
                )
            return None
        if not settings.pkcs11_token:
            raise ConfigurationError(
                "SCEAU_PKCS11_MODULE is set: SCEAU_PKCS11_TOKEN must name the token "
                "(its label)."
            )
        if not settings.pkcs11_module.is_file():
            raise ConfigurationError(
                f"SCEAU_PKCS11_MODULE: no PKCS#11 library at {settings.pkcs11_module}"
            )
        config = cls(
            module=settings.pkcs11_module,
            token_label=settings.pkcs11_token,
            pin_env=settings.pkcs11_pin_env,
            pin_file=settings.pkcs11_pin_file,
            pool_size=settings.pkcs11_pool_size,
        )
        config.read_pin()
        return config

    def read_pin(self) -> str:
        """The user PIN, from the file if one is set (its first line; a file
        only the service's user may read), else the environment."""
        if self.pin_file is not None:
            pin = read_secret_file(self.pin_file, "SCEAU_PKCS11_PIN_FILE")
            if not pin:
                raise ConfigurationError(
                    f"SCEAU_PKCS11_PIN_FILE: {self.pin_file} is empty"
                )
            return pin
        pin = os.environ.get(self.pin_env, "")
        if not pin:
            raise ConfigurationError(
                f"the token's PIN is missing: set {self.pin_env} in the environment "
                "or SCEAU_PKCS11_PIN_FILE to a file that holds it."
            )
        return pin
