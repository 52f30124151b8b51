"""The TLS front is a child of the service: it must not inherit the secrets
the service reads from its environment (master key, token PIN, backup key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sceau.runtime import Runtime
from sceau.settings import Settings
from sceau.tls.front import HaproxyProcess, write_front_files
from tests.support.servers import free_port


@pytest.fixture
def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'sceau.db'}"


def test_haproxy_sees_no_secret_of_the_service(
    settings: Settings,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCEAU_PKCS11_PIN", "pin-du-jeton-4711")
    monkeypatch.setenv("SCEAU_BACKUP_KEY", "cle-de-sauvegarde-4711")
    monkeypatch.setenv("SCEAU_MASTER_KEY", "cle-maitresse-4711")
    files = write_front_files(
        runtime,
        tmp_path / "front",
        host="127.0.0.1",
        port=free_port(),
        server_names=["127.0.0.1"],
    )
    front = HaproxyProcess(files)
    front.start()
    try:
        assert front._process is not None
        environ = Path(f"/proc/{front._process.pid}/environ").read_bytes()
    finally:
        front.stop()

    names = {entry.split(b"=", 1)[0] for entry in environ.split(b"\0") if entry}
    assert b"PATH" in names
    assert not [name for name in names if name.startswith(b"SCEAU_")]
    assert b"4711" not in environ
