"""The operator's commands for levels, allowlists, HMAC secrets, client
certificates and the TLS front, as an operator types them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from sceau.cli import main
from tests.test_cli import cli, run, run_json

__all__ = ["cli"]


def new_client(cli: CliRunner, *extra: str) -> str:
    created = run_json(cli, "client", "create", "--name", "Banque Atlantique", *extra)
    assert isinstance(created, dict)
    client_id: str = created["id"]
    return client_id


def test_level_is_set_at_creation_and_changed_later(cli: CliRunner) -> None:
    client_id = new_client(cli, "--level", "B")

    changed = run_json(
        cli, "client", "set-level", "--client", client_id, "--level", "C"
    )
    listed = run_json(cli, "client", "list")
    refused = run(cli, "client", "set-level", "--client", client_id, "--level", "D")

    assert changed == {"client": client_id, "niveau": "C"}
    assert isinstance(listed, list) and listed[0]["niveau"] == "C"
    assert refused.exit_code != 0


def test_allowlist_is_normalised_and_bad_entries_refused(cli: CliRunner) -> None:
    client_id = new_client(cli)

    set_ = run_json(
        cli,
        "client",
        "set-allowlist",
        "--client",
        client_id,
        "196.47.10.0/24",
        "2001:db8::1",
        "10.1.2.3",
    )
    bad = run(cli, "client", "set-allowlist", "--client", client_id, "10.0.0.0/33")

    assert isinstance(set_, dict)
    assert set_["adresses_autorisees"] == [
        "10.1.2.3/32",
        "196.47.10.0/24",
        "2001:db8::1/128",
    ]
    assert bad.exit_code != 0 and "10.0.0.0/33" in bad.output


def test_hmac_secret_rotates_with_overlap_and_is_listed(cli: CliRunner) -> None:
    client_id = new_client(cli)

    first = run_json(cli, "hmac", "create", "--client", client_id)
    second = run_json(
        cli, "hmac", "create", "--client", client_id, "--grace-hours", "2"
    )
    listed = run_json(cli, "hmac", "list", "--client", client_id)

    assert isinstance(first, dict) and first["cle"].startswith("phs_")
    assert isinstance(second, dict) and second["id"] != first["id"]
    assert isinstance(listed, list)
    states = {row["id"]: row["etat"] for row in listed}
    assert states == {first["id"]: "en_recouvrement", second["id"]: "active"}
    assert all("cle" not in row for row in listed)

    run_json(cli, "hmac", "revoke", first["id"])
    listed = run_json(cli, "hmac", "list", "--client", client_id)
    assert isinstance(listed, list)
    assert {row["id"]: row["etat"] for row in listed}[first["id"]] == "revoquee"


def test_key_create_with_zero_grace_ends_the_previous_key(cli: CliRunner) -> None:
    client_id = new_client(cli)

    first = run_json(cli, "key", "create", "--client", client_id)
    run_json(cli, "key", "create", "--client", client_id, "--grace-hours", "0")
    listed = run_json(cli, "key", "list", "--client", client_id)

    assert isinstance(first, dict) and isinstance(listed, list)
    assert [row["etat"] for row in listed] == ["revoquee", "active"]
    assert listed[0]["derniere_utilisation"] is None


def test_certificate_is_issued_from_a_csr_and_chains_to_the_access_ca(
    cli: CliRunner, tmp_path: Path
) -> None:
    client_id = new_client(cli, "--level", "C")
    key, csr = tmp_path / "client.key", tmp_path / "client.csr"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            "/CN=ce nom est ignore",
        ],
        check=True,
        capture_output=True,
    )

    issued = run_json(
        cli,
        "client-cert",
        "issue",
        "--client",
        client_id,
        "--csr",
        str(csr),
        "--out",
        str(tmp_path / "client.crt"),
    )
    ca = tmp_path / "access-ca.pem"
    ca.write_text(run(cli, "pki", "export-access-ca").stdout)
    verified = subprocess.run(
        [
            "openssl",
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            str(ca),
            str(tmp_path / "client.crt"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    subject = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "client.crt"), "-noout", "-subject"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert isinstance(issued, dict) and len(issued["empreinte_sha256"]) == 64
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert client_id in subject and "ignore" not in subject


def test_pkcs12_opens_with_its_passphrase_only(cli: CliRunner, tmp_path: Path) -> None:
    client_id = new_client(cli, "--level", "C")
    bundle = tmp_path / "client.p12"

    result = cli.invoke(
        main,
        ["client-cert", "issue", "--client", client_id, "--pkcs12", str(bundle)],
        env={"SCEAU_PKCS12_PASSPHRASE": "une phrase de passe solide"},
    )
    opened = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-in",
            str(bundle),
            "-noout",
            "-passin",
            "pass:une phrase de passe solide",
        ],
        capture_output=True,
        check=False,
    )
    wrong = subprocess.run(
        ["openssl", "pkcs12", "-in", str(bundle), "-noout", "-passin", "pass:mauvaise"],
        capture_output=True,
        check=False,
    )

    assert result.exit_code == 0, result.output
    assert bundle.stat().st_mode & 0o077 == 0
    assert opened.returncode == 0 and wrong.returncode != 0


def test_short_passphrase_and_bad_csr_are_refused(
    cli: CliRunner, tmp_path: Path
) -> None:
    client_id = new_client(cli)
    not_a_csr = tmp_path / "x.csr"
    not_a_csr.write_text("bonjour")

    short = cli.invoke(
        main,
        [
            "client-cert",
            "issue",
            "--client",
            client_id,
            "--pkcs12",
            str(tmp_path / "c.p12"),
            "--passphrase",
            "court",
        ],
    )
    bad = run(
        cli, "client-cert", "issue", "--client", client_id, "--csr", str(not_a_csr)
    )
    both = run(cli, "client-cert", "issue", "--client", client_id)

    assert short.exit_code != 0 and "12" in short.output
    assert bad.exit_code != 0 and "CSR" in bad.output
    assert both.exit_code != 0


def test_revoked_certificate_is_listed_as_revoked(
    cli: CliRunner, tmp_path: Path
) -> None:
    client_id = new_client(cli, "--level", "C")
    issued = run_json(
        cli,
        "client-cert",
        "issue",
        "--client",
        client_id,
        "--pkcs12",
        str(tmp_path / "c.p12"),
        "--passphrase",
        "une phrase de passe solide",
    )
    assert isinstance(issued, dict)

    revoked = run_json(cli, "client-cert", "revoke", issued["numero_serie"])
    listed = run_json(cli, "client-cert", "list", "--client", client_id)
    unknown = run(cli, "client-cert", "revoke", "00" * 32)

    assert isinstance(revoked, dict)
    assert revoked["empreinte_sha256"] == issued["empreinte_sha256"]
    assert isinstance(listed, list) and listed[0]["revoque_le"] is not None
    assert unknown.exit_code != 0


def test_front_config_is_accepted_by_haproxy(cli: CliRunner, tmp_path: Path) -> None:
    directory = tmp_path / "front"

    written = run_json(
        cli,
        "tls",
        "front-config",
        "--listen",
        "127.0.0.1:8443",
        "--dir",
        str(directory),
    )
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(directory / "haproxy.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    crl = run_json(cli, "tls", "write-crl", "--dir", str(directory))

    assert isinstance(written, dict)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verify required" in (directory / "haproxy.cfg").read_text()
    assert directory.stat().st_mode & 0o077 == 0
    assert (directory / "server.pem").stat().st_mode & 0o077 == 0
    assert crl == {"lcr": str(directory / "access-crl.pem"), "front_mis_a_jour": False}
