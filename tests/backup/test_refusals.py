"""What a restore refuses, and leaves untouched: a wrong key, a file altered
or cut short, a target that is not empty; what it upgrades: a backup of an
older schema. The backup key never shows in any output."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from sceau.backup.container import MAGIC
from sceau.clients.models import Client
from sceau.db import alembic_config
from sceau.runtime import Runtime
from tests.backup.conftest import Target, drop_database, run_cli
from tests.conftest import provision

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def environment(runtime: Runtime, key: str) -> dict[str, str]:
    return {
        "SCEAU_DATA_DIR": str(runtime.settings.data_dir),
        "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
        "SCEAU_BACKUP_KEY": key,
    }


def make_backup(runtime: Runtime, key: str, tmp_path: Path) -> Path:
    archive = tmp_path / "backup.sceau-backup"
    result = run_cli(
        environment(runtime, key), "backup", "create", "--output", str(archive)
    )
    assert result.exit_code == 0, result.output
    assert key not in result.output
    return archive


def restore(runtime: Runtime, key: str, archive: Path, target: Target, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        environment(runtime, key),
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
        *extra,
    )


@sqlite_only
def test_a_wrong_key_is_refused_and_nothing_is_restored(
    runtime: Runtime,
    backup_key: str,
    target: Target,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    other = "A" * 43 + "="

    result = restore(runtime, other, archive, target)

    assert result.exit_code == 3
    assert "made under another backup key" in result.output
    assert not target.data_dir.exists()
    for key in (other, backup_key):
        assert key not in result.output and key not in caplog.text


@sqlite_only
@pytest.mark.parametrize("where", ["salt", "middle", "last byte", "cut short"])
def test_an_altered_or_truncated_backup_is_refused_and_nothing_is_restored(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path, where: str
) -> None:
    provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    data = bytearray(archive.read_bytes())
    if where == "cut short":
        data = data[: len(data) * 2 // 3]
    else:
        position = {
            "salt": data.index(b'"salt": "') + 12,
            "middle": len(data) // 2,
            "last byte": len(data) - 1,
        }[where]
        data[position] ^= 0x01
    archive.write_bytes(bytes(data))

    result = restore(runtime, backup_key, archive, target)

    assert result.exit_code == 4, result.output
    assert re.search(r"altered|damaged|truncated", result.output)
    assert not target.data_dir.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sceau")] == []


@sqlite_only
def test_a_file_that_is_not_a_backup_is_refused(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path
) -> None:
    archive = tmp_path / "notes.txt"
    archive.write_bytes(b"not a backup at all")

    result = restore(runtime, backup_key, archive, target)

    assert result.exit_code == 4
    assert MAGIC.decode() in result.output


def test_a_target_that_is_not_empty_is_refused_unless_forced(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path
) -> None:
    client = provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    first = restore(runtime, backup_key, archive, target)
    assert first.exit_code == 0, first.output

    refused = restore(runtime, backup_key, archive, target)
    forced = restore(runtime, backup_key, archive, target, "--force")

    assert refused.exit_code == 5
    assert "is not empty" in refused.output
    assert forced.exit_code == 0, forced.output
    assert "MISMATCH" not in forced.output
    assert not [p for p in target.data_dir.iterdir() if p.name.startswith(".sceau")]
    # The backed-up database, still serving beside the copy, is untouched.
    with runtime.db.sessions() as session:
        assert session.get(Client, client.client_id) is not None


def test_the_database_alone_is_refused_when_it_holds_tables(
    runtime: Runtime, backup_key: str, tmp_path: Path
) -> None:
    archive = make_backup(runtime, backup_key, tmp_path)

    result = run_cli(
        environment(runtime, backup_key),
        "backup",
        "restore",
        str(archive),
        "--no-files",
    )

    assert result.exit_code == 5
    assert "already holds" in result.output


@sqlite_only
def test_a_backup_of_an_older_schema_is_upgraded_on_restore(
    data_dir: Path, backup_key: str, target: Target, tmp_path: Path
) -> None:
    url = f"sqlite:///{data_dir / 'sceau.db'}"
    config = alembic_config(url)
    head = ScriptDirectory.from_config(config).get_current_head()
    command.upgrade(config, "0015")
    env = {"SCEAU_DATA_DIR": str(data_dir), "SCEAU_DATABASE_URL": url}
    archive = tmp_path / "old.sceau-backup"
    made = run_cli(
        env | {"SCEAU_BACKUP_KEY": backup_key},
        "backup",
        "create",
        "--output",
        str(archive),
    )
    assert made.exit_code == 0, made.output

    result = run_cli(
        env | {"SCEAU_BACKUP_KEY": backup_key},
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert '"revision_sauvegarde": "0015"' in result.output
    assert f'"revision_restauree": "{head}"' in result.output


@sqlite_only
def test_the_key_comes_from_a_private_file_and_is_never_overwritten(
    runtime: Runtime, target: Target, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "backup.key"
    env = {
        "SCEAU_DATA_DIR": str(runtime.settings.data_dir),
        "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
    }
    assert run_cli(env, "backup", "key", str(key_file)).exit_code == 0
    key = key_file.read_text().strip()
    assert os.stat(key_file).st_mode & 0o777 == 0o600

    again = run_cli(env, "backup", "key", str(key_file))
    without = run_cli(env, "backup", "create", "--output", str(tmp_path))
    archive = tmp_path / "with-file.sceau-backup"
    made = run_cli(
        env | {"SCEAU_BACKUP_KEY_FILE": str(key_file)},
        "backup",
        "create",
        "--output",
        str(archive),
    )
    shown = run_cli(env, "backup", "show", str(archive), "--key-file", str(key_file))
    key_file.chmod(0o644)
    open_to_all = run_cli(
        env, "backup", "show", str(archive), "--key-file", str(key_file)
    )

    assert again.exit_code != 0 and "never overwritten" in again.output
    assert key_file.read_text().strip() == key
    assert without.exit_code == 1 and "no backup key" in without.output
    assert made.exit_code == 0, made.output
    assert shown.exit_code == 0 and "sqlite database" in shown.output
    assert re.search(r"snapshot of the database at 20\S+Z, newest", shown.output)
    assert open_to_all.exit_code == 1 and "chmod 600" in open_to_all.output
    for result in (again, without, made, shown, open_to_all):
        assert key not in result.output
    assert key not in caplog.text


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_backup_comes_back_under_its_own_schema_name(
    runtime: Runtime, backup_key: str, tmp_path: Path
) -> None:
    client = provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    shown = run_cli(
        environment(runtime, backup_key), "backup", "show", str(archive), "--json"
    )
    manifest = json.loads(shown.output)
    drop_database(runtime)

    result = run_cli(
        environment(runtime, backup_key),
        "backup",
        "restore",
        str(archive),
        "--no-files",
    )

    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT[\d:.]+Z", manifest["snapshot_at"])
    assert datetime.fromisoformat(manifest["snapshot_at"]) <= datetime.fromisoformat(
        manifest["created_at"]
    )
    # Again, forced over the tables it just restored, under the same name.
    again = run_cli(
        environment(runtime, backup_key),
        "backup",
        "restore",
        str(archive),
        "--no-files",
        "--force",
        "--database-url",
        runtime.settings.resolved_database_url,
    )
    assert again.exit_code == 0, again.output
    assert "MISMATCH" not in again.output
    service = Runtime(runtime.settings)
    try:
        with service.db.sessions() as session:
            assert session.get(Client, client.client_id) is not None
    finally:
        service.close()
