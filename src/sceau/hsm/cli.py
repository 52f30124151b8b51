"""``sceau hsm status``: the PKCS#11 token and the keys it holds. Attached to
``sceau`` by ``sceau.cli``."""

from __future__ import annotations

import click

from sceau.cli import _emit, json_option, main
from sceau.errors import ConfigurationError
from sceau.hsm.errors import HsmUnavailable
from sceau.hsm.keys import open_token, release_token
from sceau.hsm.status import referenced_keys, status_text, token_status
from sceau.settings import get_settings


@main.group()
def hsm() -> None:
    """The PKCS#11 token that holds the keys (SCEAU_KEY_STORE=pkcs11)."""


@hsm.command("status")
@json_option
def hsm_status(as_json: bool) -> None:
    """The module, the token, its slots and the private keys it holds; exits
    non-zero when the token cannot be used."""
    try:
        settings = get_settings()
        keys = open_token(settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    if keys is None:
        raise click.ClickException(
            "no PKCS#11 module is configured: set SCEAU_PKCS11_MODULE and "
            'SCEAU_PKCS11_TOKEN (docs/operations.md, "Keys in a PKCS#11 token").'
        )
    try:
        data = token_status(keys, referenced_keys(settings))
    except HsmUnavailable as exc:
        raise click.ClickException(
            f"the token {keys.token_label!r} cannot be used (see the log)"
        ) from exc
    finally:
        release_token(keys)
    _emit(as_json, data, lambda: status_text(data))
