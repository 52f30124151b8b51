"""``sceau deploy nginx``: what it prints is a configuration nginx accepts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sceau.cli import main
from sceau.settings import get_settings
from tests.support.deployment import NGINX


def nginx_accepts(prefix: Path, config: Path) -> subprocess.CompletedProcess[str]:
    for sub in ("logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            NGINX,
            "-t",
            "-p",
            str(prefix),
            "-c",
            str(config),
            "-e",
            str(prefix / "logs" / "error.log"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def deploy_nginx(*args: str) -> str:
    result = CliRunner().invoke(main, ["deploy", "nginx", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_standalone_configuration_passes_nginx_t(tmp_path: Path) -> None:
    text = deploy_nginx(
        "--upstream",
        "10.0.0.11:8000",
        "--upstream",
        "10.0.0.12:8000",
        "--upstream",
        "[fd00::13]:8000",
        "--listen",
        "127.0.0.1:8080",
        "--standalone",
    )
    config = tmp_path / "nginx.conf"
    config.write_text(text)

    checked = nginx_accepts(tmp_path, config)

    assert checked.returncode == 0, checked.stderr
    assert "daemon off;" in text
    for upstream in ("10.0.0.11:8000", "10.0.0.12:8000", "[fd00::13]:8000"):
        assert f"server {upstream} " in text
    # Each process once at most.
    assert "proxy_next_upstream_tries 3;" in text


def test_the_conf_d_part_passes_nginx_t_inside_an_http_block(tmp_path: Path) -> None:
    site = tmp_path / "sceau.conf"
    site.write_text(
        deploy_nginx(
            "--upstream",
            "127.0.0.1:8001",
            "--listen",
            "127.0.0.1:8080",
            "--server-name",
            "sceau.example.ci",
            "--access-log",
            str(tmp_path / "logs" / "access.log"),
        )
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        "pid logs/nginx.pid;\nevents {}\nhttp {\n"
        "    client_body_temp_path temp/body;\n    proxy_temp_path temp/proxy;\n"
        "    fastcgi_temp_path temp/fastcgi;\n    uwsgi_temp_path temp/uwsgi;\n"
        f"    scgi_temp_path temp/scgi;\n    include {site};\n}}\n"
    )

    checked = nginx_accepts(tmp_path, config)

    assert checked.returncode == 0, checked.stderr
    assert "server_name sceau.example.ci;" in site.read_text()


def test_the_body_limit_is_the_services_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCEAU_MAX_BODY_BYTES", "1048576")
    get_settings.cache_clear()
    try:
        text = deploy_nginx("--upstream", "127.0.0.1:8001")
    finally:
        get_settings.cache_clear()

    assert "client_max_body_size 1048576;" in text
    assert '"code":"corps_trop_volumineux"' in text
    assert "(1048576 octets)" in text


def test_what_the_application_relies_on_is_set() -> None:
    text = deploy_nginx("--upstream", "127.0.0.1:8001")

    # The MAC of level B covers the host with its port, and the path as sent.
    assert "proxy_set_header Host $sceau_host;" in text
    assert "map $http_host $sceau_host {" in text
    assert '    "" $host;\n    default $http_host;' in text
    assert "proxy_pass http://sceau_api;" in text
    # Set, not appended: a client's own X-Forwarded-For goes no further.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert '        proxy_set_header Connection "";' in text
    assert "keepalive_timeout 4s;" in text
    # What only the mutual-TLS front may say travels no further.
    for name in ("Peer", "Verify", "Cert", "Token"):
        assert f'        proxy_set_header X-Pixel-Front-{name} "";' in text
    # Another process after a failed connection only, never after a timeout
    # (the first may still be signing); POSTs never once sent.
    assert "        proxy_next_upstream error;" in text
    assert "non_idempotent" not in text
    assert "proxy_next_upstream_tries 1;" in text
    assert "proxy_buffers 16 16k;" in text


@pytest.mark.parametrize(
    ("address", "logged"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::/48"),
        ("2001:db8:85a3::7348", "2001:db8:85a3::/48"),
        ("2001:db8::1", "2001:db8::/48"),
        ("2001::1", "2001::/48"),
        ("::1", "::/48"),
        ("unix:", "-"),
    ],
)
def test_client_addresses_are_logged_as_their_network(
    address: str, logged: str
) -> None:
    """The log map's patterns, read out of the configuration and applied in
    nginx's order (the first that matches)."""
    text = deploy_nginx("--upstream", "127.0.0.1:8001")
    block = text.split("map $remote_addr $sceau_client_net {\n", 1)[1].split("}\n")[0]
    entries = [line.strip().rstrip(";") for line in block.splitlines()]

    for entry in entries:
        if entry.startswith("default "):
            found = entry.removeprefix("default ")
            break
        pattern, value = entry.rsplit(" ", 1)
        matched = re.match(pattern.strip('"')[1:].replace("(?<", "(?P<"), address)
        if matched:
            found = value
            for name, group in matched.groupdict().items():
                found = found.replace(f"${name}", group)
            break

    assert found == logged


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--upstream", "not an address"],
        ["--upstream", "127.0.0.1:8001", "--listen", "unix:/tmp/x.sock"],
        ["--upstream", "127.0.0.1:8001", "--tls-certificate", "/etc/x.pem"],
        ["--upstream", "127.0.0.1:8001", "--server-name", "a;b"],
        ["--upstream", "127.0.0.1:8001", "--access-log", "/var/log/a.log; b"],
        ["--upstream", "127.0.0.1:8001", "--access-log", "/var/log/{a}.log"],
        ["--upstream", "127.0.0.1:8001", "--standalone", "--user", "www data"],
        [
            "--upstream",
            "127.0.0.1:8001",
            "--tls-certificate",
            "/etc/ssl/my cert.pem",
            "--tls-key",
            "/etc/ssl/key.pem",
        ],
        [
            "--upstream",
            "127.0.0.1:8001",
            "--tls-certificate",
            "/etc/ssl/cert.pem",
            "--tls-key",
            "/etc/ssl/'key'.pem",
        ],
    ],
)
def test_options_nginx_cannot_use_are_refused(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["deploy", "nginx", *args])

    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_unix_socket_upstream_is_refused_with_the_reason() -> None:
    """``sceau serve`` listens on TCP, and over a Unix socket the service
    would see no client address to count its rate limits by."""
    result = CliRunner().invoke(
        main, ["deploy", "nginx", "--upstream", "unix:/run/sceau/api.sock"]
    )

    assert result.exit_code == 2
    assert "listens on TCP only" in result.output


def test_the_tls_listener_passes_nginx_t(tmp_path: Path) -> None:
    key, certificate = tmp_path / "key.pem", tmp_path / "fullchain.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=sceau.example.ci",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        capture_output=True,
        check=True,
    )
    text = deploy_nginx(
        "--upstream",
        "127.0.0.1:8001",
        "--listen",
        "127.0.0.1:8443",
        "--tls-certificate",
        str(certificate),
        "--tls-key",
        str(key),
        "--standalone",
    )
    config = tmp_path / "nginx.conf"
    config.write_text(text)

    checked = nginx_accepts(tmp_path, config)

    assert checked.returncode == 0, checked.stderr
    assert "listen 127.0.0.1:8443 ssl;" in text
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
