"""A real SoftHSM2 token per test, in ``tmp_path``, and a runtime whose keys
(the PKI's and new identities') live in it.

The token and its PKI are made once per run (RSA-3072 keys take a while to
generate) and copied for each test: a SoftHSM token is a directory, so each
test gets a fresh token of its own, with the same keys.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceau.app import create_app
from sceau.runtime import Runtime
from sceau.settings import Settings

TOKEN_LABEL = "pixel-sceau-test"
# Test values only; a real token's PINs come from its operator.
USER_PIN = "4821-test-pin"
SO_PIN = "9362-test-so-pin"
MODULE_PATTERNS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/*/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
)


def softhsm_module() -> Path:
    """The SoftHSM2 PKCS#11 library, wherever the distribution put it."""
    for pattern in MODULE_PATTERNS:
        for found in sorted(glob.glob(pattern)):
            return Path(found)
    listed = subprocess.run(
        ["dpkg", "-L", "softhsm2-common", "libsofthsm2"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for line in listed:
        if line.endswith("/libsofthsm2.so"):
            return Path(line)
    pytest.fail("SoftHSM2 is not installed: `make test-tools` installs softhsm2")


@dataclass(frozen=True)
class SoftHsm:
    """One token directory and the configuration that points SoftHSM at it."""

    root: Path
    module: Path

    @property
    def config(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    def write_config(self) -> None:
        self.config.write_text(
            f"directories.tokendir = {self.tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
        )

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.config)}


def _settings(
    data_dir: Path, hsm: SoftHsm, pin_file: Path, **extra: object
) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'sceau.db'}",
        log_format="text",
        key_store="pkcs11",
        pkcs11_module=hsm.module,
        pkcs11_token=TOKEN_LABEL,
        pkcs11_pin_file=pin_file,
        **extra,
    )


@pytest.fixture(scope="session")
def token_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised token holding a whole service PKI, and its data dir."""
    root = tmp_path_factory.mktemp("softhsm-template")
    hsm = SoftHsm(root, softhsm_module())
    hsm.tokens.mkdir()
    hsm.write_config()
    made = subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
        ],
        env=hsm.environment(),
        check=False,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        # Not the command line: it holds the PINs.
        output = (made.stdout + made.stderr).replace(USER_PIN, "***")
        pytest.fail(
            f"softhsm2-util --init-token failed ({made.returncode}): "
            + output.replace(SO_PIN, "***")
        )
    pin_file = root / "pin"
    pin_file.write_text(USER_PIN + "\n")
    pin_file.chmod(0o600)
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.config)
    try:
        runtime = Runtime(_settings(root / "var", hsm, pin_file))
        runtime.prepare()
        runtime.close()
    finally:
        if previous is None:
            del os.environ["SOFTHSM2_CONF"]
        else:
            os.environ["SOFTHSM2_CONF"] = previous
    return root


@pytest.fixture
def softhsm(
    tmp_path: Path, token_template: Path, monkeypatch: pytest.MonkeyPatch
) -> SoftHsm:
    """This test's own copy of the token, the one SoftHSM now serves."""
    hsm = SoftHsm(tmp_path / "softhsm", softhsm_module())
    hsm.root.mkdir()
    shutil.copytree(token_template / "tokens", hsm.tokens)
    hsm.write_config()
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.config))
    return hsm


@pytest.fixture
def pin_file(tmp_path: Path) -> Path:
    path = tmp_path / "token.pin"
    path.write_text(USER_PIN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def hsm_settings(
    tmp_path: Path, token_template: Path, softhsm: SoftHsm, pin_file: Path
) -> Settings:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copytree(token_template / "var" / "pki", data_dir / "pki")
    shutil.copy2(token_template / "var" / "master.key", data_dir / "master.key")
    return _settings(data_dir, softhsm, pin_file)


@pytest.fixture
def hsm_runtime(hsm_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(hsm_settings)
    runtime.prepare()
    yield runtime
    runtime.close()


@pytest.fixture
def hsm_api(hsm_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(hsm_runtime.settings, hsm_runtime)) as client:
        yield client
