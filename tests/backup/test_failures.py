"""What a backup or a restore does when its surroundings fail or surprise
it: a PostgreSQL tool missing or failing in a forced restore, a database
that cannot be reached, a disk that fills, an output directory that does
not exist yet, symbolic links, another master key, a forced restore that
would have fallen on the live database. Each ends with a short message and
its exit code, never a traceback, and leaves the targets as they were."""

from __future__ import annotations

import base64
import os
import re
import resource
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.backup.databases import restored_counts
from sceau.backup.errors import BackupError
from sceau.backup.service import PARTIAL_SUFFIX, STAGING_PREFIXES, _publish
from sceau.clients.models import Client
from sceau.runtime import Runtime
from tests.backup.conftest import Target, run_cli
from tests.backup.test_refusals import environment, make_backup, restore
from tests.conftest import provision

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def leftovers(directory: Path) -> list[Path]:
    return [
        p
        for p in directory.rglob("*")
        if p.name.startswith(STAGING_PREFIXES) or p.name.endswith(PARTIAL_SUFFIX)
    ]


@postgresql_only
@pytest.mark.parametrize("tools", ["pg_restore missing", "pg_restore failing"])
def test_a_forced_postgresql_restore_whose_tool_fails_leaves_the_target_intact(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path, tools: str
) -> None:
    provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    assert restore(runtime, backup_key, archive, target).exit_code == 0
    before = restored_counts(target.database_url)
    tools_dir = tmp_path / "bin"
    tools_dir.mkdir()
    if tools == "pg_restore missing":
        path = str(tools_dir)
    else:
        # Writes the start of a script, then fails as on a bad archive.
        fake = tools_dir / "pg_restore"
        fake.write_text("#!/bin/sh\necho 'SELECT 1;'\nexit 1\n")
        fake.chmod(0o755)
        path = f"{tools_dir}{os.pathsep}{os.environ['PATH']}"

    result = run_cli(
        environment(runtime, backup_key) | {"PATH": path},
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
        "--force",
    )

    assert result.exit_code == 6, result.output
    assert "pg_restore" in result.output and "Traceback" not in result.output
    assert restored_counts(target.database_url) == before
    assert before["clients"] > 0


def test_force_without_a_named_database_is_refused_and_the_live_one_kept(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path
) -> None:
    client = provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)

    result = run_cli(
        environment(runtime, backup_key),
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--force",
    )

    assert result.exit_code == 1
    assert "name it with --database-url" in result.output
    assert not target.data_dir.exists()
    with runtime.db.sessions() as session:
        assert session.get(Client, client.client_id) is not None


def test_a_database_that_cannot_be_reached_ends_with_a_short_message(
    data_dir: Path, backup_key: str, tmp_path: Path
) -> None:
    env = {
        "SCEAU_DATA_DIR": str(data_dir),
        # Port 1 on the loopback: nothing listens there.
        "SCEAU_DATABASE_URL": "postgresql+psycopg://sceau:pw-42@127.0.0.1:1/sceau",
        "SCEAU_BACKUP_KEY": backup_key,
    }
    data_dir.mkdir(parents=True, exist_ok=True)

    result = run_cli(env, "backup", "create", "--output", str(tmp_path / "out"))

    assert result.exit_code == 8, result.output
    assert "the database cannot be reached" in result.output
    assert "Traceback" not in result.output and "pw-42" not in result.output
    assert leftovers(tmp_path) == []
    assert list((tmp_path / "out").iterdir()) == []


@sqlite_only
def test_a_full_disk_ends_with_a_short_message_and_leaves_no_partial_file(
    runtime: Runtime, backup_key: str, tmp_path: Path
) -> None:
    provision(runtime)
    data_dir = runtime.settings.data_dir
    database = Path(runtime.settings.resolved_database_url.removeprefix("sqlite:///"))
    wal = Path(f"{database}-wal")
    biggest = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    # A file as big as the database: each staged file fits under the
    # limit, the backup holding both does not.
    (data_dir / "attachment.bin").write_bytes(secrets.token_bytes(biggest))
    limit = biggest + 64 * 1024
    output = tmp_path / "out"

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "sceau", "backup", "create", "--output", str(output)],
        env={
            "PATH": os.environ["PATH"],
            "SCEAU_DATA_DIR": str(data_dir),
            "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
            "SCEAU_BACKUP_KEY": backup_key,
        },
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
        check=False,
    )

    assert result.returncode == 7, result.stderr
    assert "the file system refused: File too large" in result.stderr
    assert "Traceback" not in result.stderr and backup_key not in result.stderr
    assert list(output.iterdir()) == []
    assert leftovers(tmp_path) == [] and leftovers(data_dir) == []


@sqlite_only
def test_an_output_that_is_not_a_directory_is_refused_in_short(
    runtime: Runtime, backup_key: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")

    result = run_cli(
        environment(runtime, backup_key),
        "backup",
        "create",
        "--output",
        str(tmp_path / "a-file" / "b.sceau-backup"),
    )

    assert result.exit_code == 7, result.output
    assert re.search(
        r"file system refused: (Not a directory|File exists)", result.output
    )
    assert "Traceback" not in result.output


@sqlite_only
@pytest.mark.parametrize("given", ["backups", "backups/", "backups/nightly/"])
def test_an_output_directory_that_does_not_exist_is_made_and_written_in(
    runtime: Runtime, backup_key: str, tmp_path: Path, given: str
) -> None:
    env = environment(runtime, backup_key)
    output = f"{tmp_path}/{given}"

    first = run_cli(env, "backup", "create", "--output", output)
    second_run = run_cli(env, "backup", "create", "--output", output)

    assert first.exit_code == 0, first.output
    directory = Path(output)
    assert directory.is_dir()
    written = sorted(p.name for p in directory.iterdir())
    assert written and all(n.endswith(".sceau-backup") for n in written)
    # The next scheduled run writes beside it (or, in the same second,
    # refuses to overwrite it), never into a file named like the directory.
    assert second_run.exit_code in (0, 1), second_run.output
    assert "Traceback" not in second_run.output


@sqlite_only
def test_a_symbolic_link_in_the_data_directory_is_refused_on_both_sides(
    runtime: Runtime, backup_key: str, target: Target, tmp_path: Path
) -> None:
    provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_text("outside")
    link = runtime.settings.data_dir / "pki" / "extra.pem"
    link.symlink_to(elsewhere)
    target.data_dir.mkdir(parents=True)
    (target.data_dir / "pki").mkdir()
    target_link = target.data_dir / "pki" / "root.pem"
    target_link.symlink_to(elsewhere)

    made = run_cli(
        environment(runtime, backup_key),
        "backup",
        "create",
        "--output",
        str(tmp_path / "with-link.sceau-backup"),
    )
    restored = restore(runtime, backup_key, archive, target, "--force")

    assert made.exit_code == 1 and "is a symbolic link" in made.output
    assert not (tmp_path / "with-link.sceau-backup").exists()
    assert restored.exit_code == 1 and "is a symbolic link" in restored.output
    assert target_link.is_symlink() and elsewhere.read_text() == "outside"
    assert leftovers(tmp_path) == []


@sqlite_only
def test_a_restore_under_another_master_key_says_the_pki_does_not_open(
    runtime: Runtime,
    backup_key: str,
    target: Target,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provision(runtime)
    archive = make_backup(runtime, backup_key, tmp_path)
    other_master = base64.b64encode(secrets.token_bytes(32)).decode()

    result = run_cli(
        environment(runtime, backup_key) | {"SCEAU_MASTER_KEY": other_master},
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(target.data_dir),
        "--database-url",
        target.database_url,
    )

    assert result.exit_code == 0, result.output
    assert "WARNING: the PKI's sealed keys do not open with this master key" in (
        result.output
    )
    for secret in (other_master, backup_key):
        assert secret not in result.output and secret not in caplog.text


@sqlite_only
def test_a_backup_never_replaces_a_file_or_a_partial_file_of_another_run(
    runtime: Runtime, backup_key: str, tmp_path: Path
) -> None:
    env = environment(runtime, backup_key)
    output = tmp_path / "fixed.sceau-backup"
    partial = tmp_path / ("fixed" + PARTIAL_SUFFIX)
    partial.write_bytes(b"another run writes here")

    while_written = run_cli(env, "backup", "create", "--output", str(output))
    kept = partial.read_bytes()
    partial.unlink()
    # A file that appears under the final name after the check, before the
    # backup is published under it.
    appeared = tmp_path / "late.sceau-backup"
    staged = tmp_path / "staged.partial"
    staged.write_bytes(b"the new backup")
    appeared.write_bytes(b"written meanwhile")
    with pytest.raises(BackupError, match="appeared while the backup was written"):
        _publish(staged, appeared)

    assert while_written.exit_code == 1, while_written.output
    assert "another backup is being written to it" in while_written.output
    assert kept == b"another run writes here"
    assert not output.exists() and leftovers(tmp_path) == []
    assert appeared.read_bytes() == b"written meanwhile"
    assert staged.exists()
