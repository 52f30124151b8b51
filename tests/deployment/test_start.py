"""Processes of one deployment starting at once: each migrates the database
before serving, and they must not trip over each other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sceau.ops.processes import die_with_parent
from tests.support.deployment import copy_data_dir, sceau, service_env

# How a restore brings the database it wrote up to this version's schema:
# on an engine of its own, not a running service's.
RESTORE_UPGRADE = [
    sys.executable,
    "-c",
    "import os; from sceau.db import upgrade_database; "
    "upgrade_database(os.environ['SCEAU_DATABASE_URL'])",
]


@pytest.mark.parametrize(
    "argv",
    [sceau("db", "upgrade"), RESTORE_UPGRADE],
    ids=["service", "restore"],
)
def test_processes_migrating_a_fresh_database_at_once_all_start(
    tmp_path: Path, pki_template: Path, postgres_url: str, argv: list[str]
) -> None:
    data_dir = copy_data_dir(pki_template, tmp_path / "var")
    env = service_env(data_dir, postgres_url)
    started: list[subprocess.Popen[str]] = []
    try:
        for _ in range(3):
            started.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    preexec_fn=die_with_parent,  # only a prctl call before exec
                )
            )
        outputs = [p.communicate(timeout=120) for p in started]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.communicate()

    codes = [p.returncode for p in started]
    assert codes == [0, 0, 0], [err[-2000:] for _, err in outputs]
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        versions = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).all()
    engine.dispose()
    assert len(versions) == 1
