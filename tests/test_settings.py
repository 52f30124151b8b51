"""Settings: defaults, and a production start that refuses weak secrets."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sceau.errors import ConfigurationError
from sceau.runtime import Runtime
from sceau.settings import Settings, check_production_ready


def test_defaults_use_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/sceau.db"
    assert settings.default_level == "B-LT"


def test_environment_variables_configure_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCEAU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCEAU_TSA_URLS", "https://tsa1.example/, https://tsa2.example/")
    monkeypatch.setenv("SCEAU_PUBLIC_BASE_URL", "https://sceau.example.ci/")

    settings = Settings()

    assert settings.data_dir == tmp_path
    assert settings.tsa_urls == ["https://tsa1.example/", "https://tsa2.example/"]
    assert settings.public_base_url == "https://sceau.example.ci"


def test_development_master_key_is_generated_private(tmp_path: Path) -> None:
    key = Settings(data_dir=tmp_path).load_master_key()

    path = tmp_path / "master.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path).load_master_key() == key


def test_production_without_master_key_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="production")

    with pytest.raises(ConfigurationError, match="SCEAU_MASTER_KEY"):
        Runtime(settings)
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(32)).decode(),
    ],
)
def test_production_with_weak_master_key_refuses_to_start(
    tmp_path: Path, value: str
) -> None:
    settings = Settings(data_dir=tmp_path, environment="production", master_key=value)

    with pytest.raises(ConfigurationError, match="SCEAU_MASTER_KEY"):
        check_production_ready(settings)


def test_production_with_the_development_key_refuses_to_start(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path).load_master_key()
    dev_key = (tmp_path / "master.key").read_text().strip()
    settings = Settings(data_dir=tmp_path, environment="production", master_key=dev_key)

    with pytest.raises(ConfigurationError, match="SCEAU_MASTER_KEY"):
        check_production_ready(settings)


def test_production_with_a_strong_key_starts(tmp_path: Path) -> None:
    strong = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(data_dir=tmp_path, environment="production", master_key=strong)

    check_production_ready(settings)


def test_serve_in_production_without_key_says_which_variable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SCEAU_ENVIRONMENT": "production",
        "SCEAU_DATA_DIR": str(tmp_path),
    }
    env.pop("SCEAU_MASTER_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "sceau.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "SCEAU_MASTER_KEY" in result.stderr
    assert "Traceback" not in result.stderr
