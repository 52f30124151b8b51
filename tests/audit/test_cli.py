"""``sceau audit verify`` and ``sceau audit export`` as an operator runs them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from sceau.runtime import Runtime
from tests.audit.conftest import SEEDED, drop_guards, execute, run


def test_verify_says_intact_and_exits_zero(trail: Runtime, cli: CliRunner) -> None:
    result = run(cli, "audit", "verify")

    assert result.exit_code == 0, result.output
    assert f"entries  {SEEDED}" in result.output
    assert "intact: every entry, link and anchor holds" in result.output


def test_verify_names_the_break_and_exits_three(trail: Runtime, cli: CliRunner) -> None:
    drop_guards(trail)
    execute(trail, "DELETE FROM audit_entries WHERE seq = 7")

    result = run(cli, "audit", "verify")
    as_json = run(cli, "audit", "verify", "--json")

    assert result.exit_code == 3
    assert "NOT INTACT: 1 finding(s)" in result.output
    assert "[removed] entry 7 was removed" in result.output
    assert as_json.exit_code == 3
    report = json.loads(as_json.stdout)
    assert report["intact"] is False
    assert report["findings"] == [
        {"kind": "removed", "seq": 7, "message": "entry 7 was removed"}
    ]


def test_export_writes_a_period_that_checks_on_its_own(
    trail: Runtime, cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "journal.jsonl"

    result = run(
        cli,
        "audit",
        "export",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-02",
        "--out",
        str(out),
    )
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]

    assert result.exit_code == 0, result.output
    assert [line["seq"] for line in lines] == list(range(1, SEEDED + 1))
    # What anyone can check with the export alone: each hash is the SHA-256
    # of the text beside it, and each text names the hash before it.
    previous = "0" * 64
    for line in lines:
        assert hashlib.sha256(line["body"].encode()).hexdigest() == line["hash"]
        body = json.loads(line["body"])
        assert body["prev"] == previous
        previous = line["hash"]
    assert json.loads(lines[0]["body"])["action"] == "cle_api.emise"
    assert json.loads(lines[0]["body"])["objects"] == {"cle": "key_01"}


def test_export_of_a_day_without_entries_is_empty(
    trail: Runtime, cli: CliRunner
) -> None:
    result = run(cli, "audit", "export", "--from", "2026-11-03", "--to", "2026-11-30")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_export_refuses_a_period_that_ends_before_it_starts(cli: CliRunner) -> None:
    result = run(cli, "audit", "export", "--from", "2026-11-03", "--to", "2026-11-02")
    garbled = run(cli, "audit", "export", "--from", "3 nov", "--to", "2026-11-02")

    assert result.exit_code == 2
    assert "--to is before --from" in result.output
    assert garbled.exit_code == 2
    assert "expected YYYY-MM-DD" in garbled.output


def test_purge_leaves_the_trail_whole(trail: Runtime, cli: CliRunner) -> None:
    purged = run(cli, "purge")
    verified = run(cli, "audit", "verify")

    assert purged.exit_code == 0, purged.output
    assert verified.exit_code == 0, verified.output
    assert f"entries  {SEEDED}" in verified.output
