"""``sceau catalogue …`` and ``sceau matrix …`` as an operator types them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sceau.authority.service import business_date
from sceau.cli import main
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.authority.conftest import KINDS, insurer_rules
from tests.conftest import Provisioned
from tests.people.conftest import Registered
from tests.test_cli import cli, run, run_json

__all__ = ["cli"]


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def catalogue_file(tmp_path: Path) -> str:
    items = [{"code": code, "libelle": label} for code, label in KINDS.items()]
    return write(tmp_path, "types.json", {"types_acte": items})


def test_catalogue_and_matrix_round_trip(
    cli: CliRunner,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    tmp_path: Path,
) -> None:
    client = atlanta.client_id
    review = (business_date(utcnow()) + timedelta(days=300)).isoformat()
    matrix_file = write(
        tmp_path,
        "matrice.json",
        {
            "regles": insurer_rules(atlanta, notary),
            "revue_le": review,
            "politique_revue": "refuser",
        },
    )

    reviewed_file = write(
        tmp_path,
        "matrice-revue.json",
        {
            "regles": insurer_rules(atlanta, notary),
            "revue_le": (business_date(utcnow()) + timedelta(days=360)).isoformat(),
            "politique_revue": "refuser",
        },
    )

    set_types = run_json(
        cli, "catalogue", "set", "--client", client, "--file", catalogue_file(tmp_path)
    )
    shown_types = run_json(cli, "catalogue", "show", "--client", client)
    published = run_json(
        cli, "matrix", "set", "--client", client, "--file", matrix_file
    )
    unchanged = run_json(
        cli, "matrix", "set", "--client", client, "--file", matrix_file
    )
    again = run_json(cli, "matrix", "set", "--client", client, "--file", reviewed_file)
    shown = run_json(cli, "matrix", "show", "--client", client)
    first = run_json(cli, "matrix", "show", "--client", client, "--version", "1")
    history = run_json(cli, "matrix", "history", "--client", client)

    assert set_types == shown_types
    assert isinstance(shown_types, dict)
    assert [t["code"] for t in shown_types["types_acte"]] == sorted(KINDS)
    assert isinstance(published, dict) and isinstance(again, dict)
    # The same file again is the version in force, not a new one.
    assert unchanged == published
    assert (published["version"], again["version"]) == (1, 2)
    assert published["auteur"] == "operateur"
    assert published["politique_revue"] == "refuser"
    assert published["revue_le"] == review
    assert shown == again
    assert isinstance(first, dict)
    assert first["en_vigueur"] is False and first["regles"] == published["regles"]
    assert isinstance(history, list)
    assert [(v["version"], v["en_vigueur"]) for v in history] == [(2, True), (1, False)]


def test_text_output_lists_the_rules(
    cli: CliRunner,
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    tmp_path: Path,
) -> None:
    client = atlanta.client_id
    run(cli, "catalogue", "set", "--client", client, "--file", catalogue_file(tmp_path))
    review = (business_date(utcnow()) + timedelta(days=300)).isoformat()
    body = {"regles": insurer_rules(atlanta, notary), "revue_le": review}
    run(
        cli,
        "matrix",
        "set",
        "--client",
        client,
        "--file",
        write(tmp_path, "m.json", body),
    )

    shown = run(cli, "matrix", "show", "--client", client)
    types = run(cli, "catalogue", "show", "--client", client)

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"version 1, review by {review} (avertir)")
    assert lines[3] == f"R3\tpolice_assurance\t[5000000, -)\thumaine\t{notary.code_09}"
    assert lines[4] == "R4\tcontrat_reassurance\t[1000000, -)\thumaine\tany"
    assert "police_assurance\tPolices d'assurance" in types.stdout


def test_the_matrix_file_may_come_on_standard_input(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned, tmp_path: Path
) -> None:
    client = atlanta.client_id
    run(cli, "catalogue", "set", "--client", client, "--file", catalogue_file(tmp_path))
    review = (business_date(utcnow()) + timedelta(days=30)).isoformat()
    document = {
        "regles": [{"type_acte": "attestation", "mode": "systeme"}],
        "revue_le": review,
    }

    result = cli.invoke(
        main,
        ["matrix", "set", "--client", client, "--file", "-", "--json"],
        input=json.dumps(document),
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == 1


def test_operator_mistakes_are_explained(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned, tmp_path: Path
) -> None:
    client = atlanta.client_id
    no_matrix = run(cli, "matrix", "show", "--client", client)
    unknown_client = run(cli, "catalogue", "show", "--client", "cli_inconnu")
    bad_json = run(
        cli, "matrix", "set", "--client", client, "--file", str(_text(tmp_path, "{"))
    )
    wrong_shape = run(
        cli,
        "matrix",
        "set",
        "--client",
        client,
        "--file",
        write(tmp_path, "m.json", {"rules": []}),
    )
    bad_date = run(
        cli,
        "matrix",
        "set",
        "--client",
        client,
        "--file",
        write(tmp_path, "d.json", {"regles": [], "revue_le": "bientôt"}),
    )
    invalid = run(
        cli,
        "matrix",
        "set",
        "--client",
        client,
        "--file",
        write(
            tmp_path,
            "i.json",
            {
                "regles": [{"type_acte": "attestation", "mode": "systeme"}],
                "revue_le": (business_date(utcnow()) + timedelta(days=9)).isoformat(),
            },
        ),
    )

    for result in (no_matrix, unknown_client, bad_json, wrong_shape, bad_date, invalid):
        assert result.exit_code == 1
    assert "n'a pas de matrice d'autorité" in no_matrix.output
    assert "Ce client n'existe pas." in unknown_client.output
    assert "not valid JSON" in bad_json.output
    assert 'expected {"regles"' in wrong_shape.output
    assert "revue_le must be a date" in bad_date.output
    assert "« attestation » n'est pas au catalogue" in invalid.output


def _text(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    return path
