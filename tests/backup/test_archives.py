"""Archives no ``sceau backup create`` writes, sealed under the right key:
a restore refuses each as damaged (exit 4) and leaves nothing behind, no
target and no staging."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sceau.backup.container import EncryptingWriter
from tests.backup.conftest import run_cli

DATABASE = b"SQLite format 3\x00 not really"
EXTRA = b"a file"


def entry(name: str, content: bytes) -> dict[str, Any]:
    return {
        "name": name,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "mode": 0o600,
    }


def manifest(*members: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": 1,
        "created_at": "2026-12-04T09:00:00Z",
        "snapshot_at": "2026-12-04T09:00:00Z",
        "service_version": "0",
        "database": {
            "kind": "sqlite",
            "schema": None,
            "revision": None,
            "newest_signature_at": None,
            "counts": {},
        },
        "master_key_included": False,
        "members": list(members),
    }


def regular(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def link(name: str, kind: bytes, to: str) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = to
    return info, None


def sealed(
    path: Path,
    key: bytes,
    listed: dict[str, Any],
    members: list[tuple[tarfile.TarInfo, bytes | None]],
) -> Path:
    with path.open("wb") as out:
        writer = EncryptingWriter(out, key)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            body = json.dumps(listed).encode()
            head = tarfile.TarInfo("manifest.json")
            head.size = len(body)
            tar.addfile(head, io.BytesIO(body))
            for info, content in members:
                tar.addfile(info, None if content is None else io.BytesIO(content))
        writer.finish()
    return path


DB = "database/sceau.sqlite"
CASES: dict[str, tuple[str, dict[str, Any], list[Any]]] = {
    "a member the manifest does not list": (
        "does not list",
        manifest(entry(DB, DATABASE)),
        [regular(DB, DATABASE), regular("files/pki/extra.pem", EXTRA)],
    ),
    "a member outside the archive, listed": (
        "outside itself",
        manifest(entry(DB, DATABASE), entry("files/../../x", EXTRA)),
        [regular(DB, DATABASE), regular("files/../../x", EXTRA)],
    ),
    "../x, not listed": (
        "does not list",
        manifest(entry(DB, DATABASE)),
        [regular(DB, DATABASE), regular("../x", EXTRA)],
    ),
    "an absolute name": (
        "manifest names",
        manifest(entry(DB, DATABASE), entry("/tmp/sceau-x", EXTRA)),
        [regular(DB, DATABASE), regular("/tmp/sceau-x", EXTRA)],
    ),
    "a symbolic link": (
        "as a link",
        manifest(entry(DB, DATABASE), entry("files/pki/root.pem", b"")),
        [regular(DB, DATABASE), link("files/pki/root.pem", tarfile.SYMTYPE, "/")],
    ),
    "a hard link": (
        "as a link",
        manifest(entry(DB, DATABASE), entry("files/pki/root.pem", b"")),
        [regular(DB, DATABASE), link("files/pki/root.pem", tarfile.LNKTYPE, DB)],
    ),
    "a member twice": (
        "twice",
        manifest(entry(DB, DATABASE), entry("files/a", EXTRA)),
        [regular(DB, DATABASE), regular("files/a", EXTRA), regular("files/a", EXTRA)],
    ),
    "a member whose content differs from the manifest": (
        "does not match the SHA-256",
        manifest(entry(DB, DATABASE), entry("files/a", EXTRA)),
        [regular(DB, DATABASE), regular("files/a", EXTRA.upper())],
    ),
    "no database copy": (
        "one database copy",
        manifest(entry("files/a", EXTRA)),
        [regular("files/a", EXTRA)],
    ),
    "a manifest without members": (
        "manifest is damaged",
        {"format": 1, "created_at": "2026-12-04T09:00:00Z", "database": {}},
        [regular(DB, DATABASE)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_crafted_archive_is_refused_as_damaged_and_nothing_is_left(
    tmp_path: Path, case: str
) -> None:
    key = secrets.token_bytes(32)
    reason, listed, members = CASES[case]
    archive = sealed(tmp_path / "crafted.sceau-backup", key, listed, members)
    restored = tmp_path / "restored"
    env = {
        "SCEAU_DATA_DIR": str(tmp_path / "var"),
        "SCEAU_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'sceau.db'}",
        "SCEAU_BACKUP_KEY": base64.b64encode(key).decode(),
    }

    result = run_cli(
        env,
        "backup",
        "restore",
        str(archive),
        "--data-dir",
        str(restored),
        "--database-url",
        f"sqlite:///{restored / 'sceau.db'}",
    )

    assert result.exit_code == 4, result.output
    assert reason in result.output
    assert "Traceback" not in result.output
    assert not restored.exists()
    assert not (tmp_path / "x").exists() and not Path("/tmp/sceau-x").exists()
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".sceau")] == []
