"""Processes of one deployment starting at once: each migrates the database
before serving, and they must not trip over each other."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.deployment import copy_data_dir, sceau, service_env


def test_processes_migrating_a_fresh_database_at_once_all_start(
    tmp_path: Path, pki_template: Path, postgres_url: str
) -> None:
    data_dir = copy_data_dir(pki_template, tmp_path / "var")
    env = service_env(data_dir, postgres_url)
    started = [
        subprocess.Popen(
            sceau("db", "upgrade"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(p.wait(120), p.communicate()) for p in started]

    assert [code for code, _ in outcomes] == [0, 0, 0], [
        err[-2000:] for _, (_, err) in outcomes
    ]
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        versions = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).all()
    engine.dispose()
    assert len(versions) == 1
