"""What the audit trail keeps of a client's credentials, issued and revoked
through the API and at the command line: the key's id, the certificate's
fingerprint, who did it, and never a key's or a secret's value."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from sceau.audit.service import entries_about
from sceau.runtime import Runtime
from tests.audit.conftest import entries_of, stored_text
from tests.conftest import Provisioned
from tests.test_cli import cli, run_json

__all__ = ["cli"]

KEYS_API = "/api/v1/sceau/b2b/cles"


def _new_client(cli: CliRunner) -> str:
    created = run_json(cli, "client", "create", "--name", "Banque Atlantique")
    assert isinstance(created, dict)
    client_id: str = created["id"]
    return client_id


def test_provisioning_records_the_client_its_identity_and_its_key(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    [client] = entries_of(runtime, "client.cree")
    [identity] = entries_of(runtime, "identite.emise")
    [key] = entries_of(runtime, "cle_api.emise")

    assert client.subject == atlanta.client_id
    assert client.details["etat"] == "production"
    assert identity.subject == atlanta.code_09
    assert identity.client_id == atlanta.client_id
    assert key.subject == atlanta.api_key_id
    assert key.objects == {"cle": atlanta.api_key_id, "client": atlanta.client_id}
    assert {e.actor["kind"] for e in (client, identity, key)} == {"operateur"}
    assert client.seq < identity.seq < key.seq
    assert atlanta.api_key not in stored_text(runtime)


def test_a_rotation_through_the_api_names_the_key_that_asked(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    answer = api.post(f"{KEYS_API}/api", headers=atlanta.headers)
    assert answer.status_code == 201, answer.text
    new = answer.json()

    [renewed] = entries_of(runtime, "cle_api.renouvelee")
    assert renewed.subject == new["id"]
    assert renewed.objects["cle"] == new["id"]
    assert renewed.objects["precedente"] == atlanta.api_key_id
    assert renewed.details["precedente_valide_jusqu_au"]
    with runtime.db.sessions() as session:
        about_old = entries_about(session, [atlanta.api_key_id])
    assert renewed.seq in [e.seq for e in about_old]
    assert renewed.actor["kind"] == "client"
    assert renewed.actor["key_id"] == atlanta.api_key_id
    assert renewed.actor["level"] == "A"
    assert renewed.actor["address"]
    assert renewed.client_id == atlanta.client_id

    text = stored_text(runtime)
    assert new["secret"] not in text
    assert atlanta.api_key not in text


def test_an_hmac_secret_through_the_api_keeps_only_its_id(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    answer = api.post(f"{KEYS_API}/hmac", headers=atlanta.headers)
    assert answer.status_code == 201, answer.text
    issued = answer.json()

    [entry] = entries_of(runtime, "secret_hmac.emis")
    assert entry.objects == {"cle_hmac": issued["id"], "client": atlanta.client_id}
    assert entry.actor["key_id"] == atlanta.api_key_id
    assert issued["secret"] not in stored_text(runtime)


def test_keys_issued_and_revoked_at_the_command_line(
    cli: CliRunner, runtime: Runtime
) -> None:
    client_id = _new_client(cli)
    first = run_json(cli, "key", "create", "--client", client_id)
    second = run_json(cli, "key", "create", "--client", client_id, "--grace-hours", "0")
    assert isinstance(first, dict) and isinstance(second, dict)
    run_json(cli, "key", "revoke", second["id"])
    run_json(cli, "key", "revoke", second["id"])  # already revoked: no entry

    [issued] = entries_of(runtime, "cle_api.emise")
    [renewed] = entries_of(runtime, "cle_api.renouvelee")
    ended, revoked = entries_of(runtime, "cle_api.revoquee")
    assert issued.subject == first["id"]
    assert renewed.subject == second["id"]
    assert renewed.objects["precedente"] == first["id"]
    assert renewed.details["fin_immediate"] == [first["id"]]
    # Ended by the renewal without grace: its own revocation, right after.
    assert ended.subject == first["id"]
    assert ended.objects["remplacement"] == second["id"]
    assert ended.details == {"motif": "renouvellement"}
    assert ended.seq == renewed.seq + 1
    assert revoked.subject == second["id"]
    for entry in (ended, revoked):
        assert entry.actor["kind"] == "operateur"
        assert entry.client_id == client_id

    text = stored_text(runtime)
    assert first["cle"] not in text
    assert second["cle"] not in text


def test_hmac_secrets_issued_renewed_and_revoked_at_the_command_line(
    cli: CliRunner, runtime: Runtime
) -> None:
    client_id = _new_client(cli)
    first = run_json(cli, "hmac", "create", "--client", client_id)
    second = run_json(cli, "hmac", "create", "--client", client_id)
    assert isinstance(first, dict) and isinstance(second, dict)
    run_json(cli, "hmac", "revoke", first["id"])

    actions = [
        (e.action, e.subject)
        for e in entries_of(runtime)
        if e.action.startswith("secret_hmac.")
    ]
    assert actions == [
        ("secret_hmac.emis", first["id"]),
        ("secret_hmac.renouvele", second["id"]),
        ("secret_hmac.revoque", first["id"]),
    ]
    text = stored_text(runtime)
    assert first["cle"] not in text
    assert second["cle"] not in text


def test_level_and_allowlist_changes_keep_before_and_after(
    cli: CliRunner, runtime: Runtime
) -> None:
    client_id = _new_client(cli)
    run_json(cli, "client", "set-level", "--client", client_id, "--level", "C")
    run_json(cli, "client", "set-level", "--client", client_id, "--level", "C")
    run_json(cli, "client", "set-allowlist", "--client", client_id, "196.47.10.0/24")

    [level] = entries_of(runtime, "client.niveau_modifie")
    [allowlist] = entries_of(runtime, "adresses_ip.modifiees")
    assert level.details == {"avant": "A", "apres": "C"}
    assert level.subject == client_id
    assert allowlist.details == {"avant": [], "apres": ["196.47.10.0/24"]}


def test_a_client_certificate_issued_and_revoked_by_its_fingerprint(
    cli: CliRunner, runtime: Runtime, tmp_path: Path
) -> None:
    client_id = _new_client(cli)
    passphrase = "une phrase pour le PKCS#12"
    issued = run_json(
        cli,
        "client-cert",
        "issue",
        "--client",
        client_id,
        "--pkcs12",
        str(tmp_path / "client.p12"),
        "--passphrase",
        passphrase,
    )
    assert isinstance(issued, dict)
    fingerprint = issued["empreinte_sha256"]
    run_json(cli, "client-cert", "revoke", fingerprint)

    [made] = entries_of(runtime, "certificat_client.emis")
    [revoked] = entries_of(runtime, "certificat_client.revoque")
    assert made.subject == revoked.subject == fingerprint
    assert made.objects == {"certificat": fingerprint, "client": client_id}
    assert made.details["origine_cle"] == "pkcs12"
    assert made.details["numero_serie"] == issued["numero_serie"]
    assert passphrase not in stored_text(runtime)
