"""Validators nobody here wrote: poppler's ``pdfsig`` (on NSS), ``qpdf`` and
``openssl ts``, run as subprocesses on files written to disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

_TIMEOUT = 60


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=_TIMEOUT,
    )


def nss_db(tmp_path: Path, *root_pems: bytes) -> Path:
    """A fresh NSS database in which each PEM root is a trusted CA."""
    directory = tmp_path / "nssdb"
    directory.mkdir()
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        check=True,
        capture_output=True,
        timeout=_TIMEOUT,
    )
    for number, pem in enumerate(root_pems):
        path = tmp_path / f"trusted-root-{number}.pem"
        path.write_bytes(pem)
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{directory}",
                "-n",
                f"root-{number}",
                "-t",
                "CT,C,C",
                "-i",
                str(path),
            ],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT,
        )
    return directory


def pdfsig(path: Path, nssdb: Path) -> str:
    """What ``pdfsig`` prints about the signatures of ``path``."""
    result = _run("pdfsig", "-nssdir", f"sql:{nssdb}", path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def pdfsig_signatures(output: str) -> list[dict[str, str]]:
    """``pdfsig`` output split per signature: ``{"Signature Type": "…", …}``;
    lines without a value (``Total document signed``) map to ``""``."""
    signatures: list[dict[str, str]] = []
    for line in output.splitlines():
        if line.startswith("Signature #"):
            signatures.append({})
        elif signatures and line.strip().startswith("- "):
            key, _, value = line.strip()[2:].partition(": ")
            signatures[-1][key] = value
    return signatures


def qpdf_check(path: Path) -> subprocess.CompletedProcess[str]:
    """``qpdf --check``: exit 0 and no warning for a clean file."""
    return _run("qpdf", "--check", path)


def openssl_ts_verify(
    reply: Path,
    *,
    ca_file: Path,
    untrusted: Path,
    data: Path | None = None,
    digest_hex: str | None = None,
    token_in: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``openssl ts -verify`` of a reply (or, with ``token_in``, a bare token)
    against ``data`` or a precomputed ``digest_hex``; OK prints
    ``Verification: OK``."""
    if (data is None) == (digest_hex is None):
        raise ValueError("give exactly one of data and digest_hex")
    args: list[str | Path] = ["openssl", "ts", "-verify"]
    args += ["-data", data] if data is not None else ["-digest", str(digest_hex)]
    args += ["-in", reply]
    if token_in:
        args.append("-token_in")
    args += ["-CAfile", ca_file, "-untrusted", untrusted]
    return _run(*args)


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Any other ``openssl`` command, output captured."""
    return _run("openssl", *args)
