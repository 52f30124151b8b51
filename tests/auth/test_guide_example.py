"""The worked HMAC example of the integrators' guide is right: the project's
code and openssl both give the MAC the guide prints."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from sceau.auth.hmac_scheme import canonical_string, key_id_of, sign_request

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def example() -> dict[str, str]:
    block = re.search(
        r"<!-- exemple-hmac -->\n```text\n(.*?)```", GUIDE.read_text(), re.S
    )
    assert block is not None, "the guide lost its worked example"
    return dict(line.split("=", 1) for line in block.group(1).splitlines() if line)


def test_guide_example_matches_the_code() -> None:
    values = example()
    body = values["corps"].encode()

    header = sign_request(
        values["secret"],
        method=values["methode"],
        host=values["hote"],
        path=values["chemin"],
        query=values["requete"],
        body=body,
        timestamp=int(values["horodatage"]),
        nonce=values["nonce"],
    )

    assert hashlib.sha256(body).hexdigest() == values["sha256_corps"]
    assert header == values["en_tete"]
    assert header.endswith(f";s={values['mac']}")


def test_guide_example_mac_is_what_openssl_computes() -> None:
    values = example()
    canonical = canonical_string(
        key_id=key_id_of(values["secret"]),
        timestamp=int(values["horodatage"]),
        nonce=values["nonce"],
        method=values["methode"],
        host=values["hote"],
        path=values["chemin"],
        query=values["requete"],
        body_sha256=values["sha256_corps"],
    )

    computed = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", values["secret"]],
        input=canonical.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()

    assert computed.strip().endswith(values["mac"])
