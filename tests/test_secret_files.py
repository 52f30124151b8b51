"""A secret's file (the token's PIN, the backup key) is read only when no
other user may read or write it; its first line is the secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sceau.errors import ConfigurationError
from sceau.secret_files import read_secret_file


def _secret(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_first_line_is_the_secret(tmp_path: Path) -> None:
    path = _secret(tmp_path, "  1234-5678 \nune note\n", 0o600)

    assert read_secret_file(path, "SCEAU_PKCS11_PIN_FILE") == "1234-5678"


def test_an_owner_only_file_without_write_is_read(tmp_path: Path) -> None:
    assert read_secret_file(_secret(tmp_path, "s\n", 0o400), "X") == "s"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_file_open_to_others_is_refused_with_what_to_do(
    tmp_path: Path, mode: int
) -> None:
    path = _secret(tmp_path, "1234-5678\n", mode)

    with pytest.raises(ConfigurationError) as refused:
        read_secret_file(path, "SCEAU_PKCS11_PIN_FILE")

    message = str(refused.value)
    assert message.startswith("SCEAU_PKCS11_PIN_FILE: ")
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message
    assert "1234" not in message


def test_a_missing_file_names_the_setting_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent"

    with pytest.raises(
        ConfigurationError,
        match=re.escape(f"SCEAU_PKCS11_PIN_FILE: cannot read {missing}"),
    ):
        read_secret_file(missing, "SCEAU_PKCS11_PIN_FILE")
