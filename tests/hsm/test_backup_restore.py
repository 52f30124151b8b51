"""A backup of a service whose CA keys are in the token: the restore says
where the keys are (the token, not the backup), not to set the master key."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from sceau.runtime import Runtime
from tests.backup.conftest import run_cli


def test_restore_of_a_token_pki_names_the_token_not_the_master_key(
    hsm_runtime: Runtime, tmp_path: Path
) -> None:
    settings = hsm_runtime.settings
    hsm_runtime.close()
    env = {
        "SCEAU_DATA_DIR": str(settings.data_dir),
        "SCEAU_DATABASE_URL": settings.resolved_database_url,
        "SCEAU_BACKUP_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    archive = tmp_path / "jeton.sceau-backup"
    restored_dir = tmp_path / "restored"

    made = run_cli(env, "backup", "create", "--output", str(archive))
    text = run_cli(
        env,
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(restored_dir),
        "--no-database",
    )
    again = run_cli(
        env,
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(tmp_path / "again"),
        "--no-database",
        "--json",
    )

    assert made.exit_code == 0, made.output
    assert text.exit_code == 0, text.output
    assert list(restored_dir.glob("pki/*.key.pkcs11"))
    assert "the PKI's CA keys are in the PKCS#11 token" in text.output
    assert repr(settings.pkcs11_token) in text.output
    assert "SCEAU_MASTER_KEY" not in text.output
    assert json.loads(again.output)["pki_dans_les_jetons"] == [settings.pkcs11_token]
