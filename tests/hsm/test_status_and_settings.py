"""``sceau hsm status`` through click's runner, and the settings a token
needs: the PIN from the environment or a file, a clear refusal without it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sceau.cli import main
from sceau.errors import ConfigurationError
from sceau.hsm.errors import HsmUnavailable
from sceau.runtime import Runtime
from sceau.settings import Settings, get_settings
from tests.conftest import provision
from tests.hsm.conftest import TOKEN_LABEL, USER_PIN


def _environment(settings: Settings) -> dict[str, str]:
    assert settings.pkcs11_module is not None and settings.pkcs11_pin_file is not None
    return {
        "SCEAU_DATA_DIR": str(settings.data_dir),
        "SCEAU_KEY_STORE": "pkcs11",
        "SCEAU_PKCS11_MODULE": str(settings.pkcs11_module),
        "SCEAU_PKCS11_TOKEN": TOKEN_LABEL,
        "SCEAU_PKCS11_PIN_FILE": str(settings.pkcs11_pin_file),
    }


@pytest.fixture
def status_env(hsm_runtime: Runtime) -> Iterator[dict[str, str]]:
    provision(hsm_runtime, algorithm="ecdsa-p256")
    get_settings.cache_clear()
    yield _environment(hsm_runtime.settings)
    get_settings.cache_clear()


def test_hsm_status_shows_token_and_keys_as_json(status_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["hsm", "status", "--json"], env=status_env)

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["token"]["label"] == TOKEN_LABEL
    assert data["token"]["serial"]
    assert data["module"]["manufacturer"].startswith("SoftHSM")
    assert data["slots"]["free"] >= 1
    labels = {key["label"]: key for key in data["keys"]}
    assert set(labels) == {
        "pki:root",
        "pki:issuing",
        "pki:tsa",
        "pki:access",
        "identity:09S-ATLANTASYS-X",
    }
    assert labels["pki:root"]["key_type"] == "RSA"
    assert labels["pki:root"]["size"] == "3072 bits"
    assert labels["pki:access"]["size"] == "secp384r1"
    assert labels["identity:09S-ATLANTASYS-X"]["size"] == "secp256r1"
    assert all(not key["extractable"] and key["sensitive"] for key in data["keys"])
    assert USER_PIN not in result.output


def test_hsm_status_flags_keys_that_nothing_refers_to(
    status_env: dict[str, str], hsm_runtime: Runtime
) -> None:
    # A key left by an identity whose creation could not even be undone.
    assert hsm_runtime.token is not None
    hsm_runtime.token.generate("ecdsa-p256", "identity:09S-ORPHELIN-X")

    result = CliRunner().invoke(main, ["hsm", "status", "--json"], env=status_env)
    table = CliRunner().invoke(main, ["hsm", "status"], env=status_env)

    assert result.exit_code == 0, result.output
    flags = {
        key["label"]: key["referenced"] for key in json.loads(result.output)["keys"]
    }
    assert flags.pop("identity:09S-ORPHELIN-X") is False
    assert set(flags.values()) == {True}
    [flagged] = [line for line in table.output.splitlines() if "UNREFERENCED" in line]
    assert "identity:09S-ORPHELIN-X" in flagged


def test_hsm_status_prints_a_table(status_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["hsm", "status"], env=status_env)

    assert result.exit_code == 0, result.output
    assert f"token\t{TOKEN_LABEL}" in result.output
    assert "extractable=false" in result.output
    assert "extractable=true" not in result.output


def test_hsm_status_without_a_module_says_what_to_set(tmp_path: Path) -> None:
    get_settings.cache_clear()
    result = CliRunner().invoke(
        main,
        ["hsm", "status"],
        env={"SCEAU_DATA_DIR": str(tmp_path), "SCEAU_PKCS11_MODULE": None},
    )
    get_settings.cache_clear()

    assert result.exit_code == 1
    assert "SCEAU_PKCS11_MODULE" in result.output


def test_pin_is_read_from_the_environment_variable(
    hsm_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCEAU_TOKEN_PIN_FOR_TEST", USER_PIN)
    settings = hsm_settings.model_copy(
        update={"pkcs11_pin_file": None, "pkcs11_pin_env": "SCEAU_TOKEN_PIN_FOR_TEST"}
    )
    runtime = Runtime(settings)
    try:
        runtime.prepare()
        provision(runtime)
        assert runtime.token is not None and runtime.token.pool.logins == 1
    finally:
        runtime.close()


def test_missing_pin_refuses_to_start_and_names_where_to_put_it(
    hsm_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCEAU_PKCS11_PIN", raising=False)
    settings = hsm_settings.model_copy(update={"pkcs11_pin_file": None})
    runtime = Runtime(settings)

    with pytest.raises(ConfigurationError, match="SCEAU_PKCS11_PIN"):
        runtime.prepare()
    runtime.close()


def test_a_pin_file_others_may_read_refuses_to_start(
    hsm_settings: Settings, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.pin"
    shared.write_text(USER_PIN + "\n")
    shared.chmod(0o644)
    runtime = Runtime(hsm_settings.model_copy(update={"pkcs11_pin_file": shared}))

    with pytest.raises(ConfigurationError, match="chmod 600") as refused:
        runtime.prepare()
    runtime.close()
    assert "SCEAU_PKCS11_PIN_FILE" in str(refused.value)
    assert USER_PIN not in str(refused.value)


def test_key_store_pkcs11_without_a_module_refuses_to_start(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path, key_store="pkcs11"))

    with pytest.raises(ConfigurationError, match="SCEAU_PKCS11_MODULE"):
        runtime.prepare()
    runtime.close()


def test_token_pki_without_token_settings_refuses_to_load(
    hsm_settings: Settings,
) -> None:
    settings = hsm_settings.model_copy(
        update={"key_store": "file", "pkcs11_module": None, "pkcs11_token": None}
    )
    runtime = Runtime(settings)

    with pytest.raises(ConfigurationError, match="PKCS#11 token"):
        runtime.prepare()
    runtime.close()


def test_wrong_pin_is_hsm_unavailable_and_never_shown(
    hsm_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = tmp_path / "wrong.pin"
    wrong.write_text("0000-not-the-pin\n")
    wrong.chmod(0o600)
    runtime = Runtime(hsm_settings.model_copy(update={"pkcs11_pin_file": wrong}))
    try:
        runtime.prepare()
        with pytest.raises(HsmUnavailable):
            provision(runtime)
    finally:
        runtime.close()
    assert "0000-not-the-pin" not in caplog.text
    assert USER_PIN not in caplog.text
