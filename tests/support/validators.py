"""Validators nobody here wrote: poppler's ``pdfsig`` (on NSS), ``qpdf`` and
``openssl ts``, run as subprocesses on files written to disk."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader

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


def pdftotext(path: Path) -> str:
    """The text of every page, as poppler's ``pdftotext`` reads it."""
    result = _run("pdftotext", "-enc", "UTF-8", path, "-")
    assert result.returncode == 0, result.stderr
    return result.stdout


def qr_code_on_last_page(path: Path, workdir: Path) -> str:
    """The QR code on the last page, drawn by poppler at 150 dpi and read by
    zbar; an empty string when there is none."""
    info = _run("pdfinfo", path)
    pages = next(
        int(line.split()[-1])
        for line in info.stdout.splitlines()
        if line.startswith("Pages:")
    )
    prefix = workdir / f"{path.stem}-page"
    drawn = _run(
        "pdftoppm",
        "-r",
        "150",
        "-f",
        str(pages),
        "-l",
        str(pages),
        "-png",
        "-singlefile",
        path,
        prefix,
    )
    assert drawn.returncode == 0, drawn.stderr
    return _run("zbarimg", "--raw", "-q", f"{prefix}.png").stdout.strip()


def signature_entries(pdf: bytes) -> list[dict[str, str]]:
    """Each signature dictionary's ``/Reason``, ``/Name`` and the entries of
    its ``/Prop_Build /App``, as pypdf (not pyHanko) reads them."""
    found: list[dict[str, str]] = []
    for field in PdfReader(BytesIO(pdf)).get_fields().values():
        value = field.get("/V")
        if value is None:
            continue
        signature = value.get_object()
        if (
            signature.get("/Type") not in ("/Sig", None)
            or "/ByteRange" not in signature
        ):
            continue
        entries = {
            key: str(signature[key]) for key in ("/Reason", "/Name") if key in signature
        }
        app = signature.get("/Prop_Build", {}).get("/App", {})
        entries |= {f"/App{key}": str(value) for key, value in app.items()}
        found.append(entries)
    return found
