"""Incidents: every affected client is told on its agreed channel, at once,
and the time from declaration to delivery is recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings
from sceau.webhooks.service import add_endpoint
from sceau.webhooks.signatures import SecretBox
from tests.conftest import provision
from tests.support.events import Mailbox, Receiver, drain, make_worker


@pytest.fixture
def cli(runtime: Runtime, mailbox: Mailbox) -> Iterator[CliRunner]:
    settings = runtime.settings
    env = {
        "SCEAU_DATA_DIR": str(settings.data_dir),
        "SCEAU_DATABASE_URL": settings.resolved_database_url,
        "SCEAU_ALLOW_HTTP_LOOPBACK_CALLBACKS": "true",
        "SCEAU_SMTP_HOST": "127.0.0.1",
        "SCEAU_SMTP_PORT": str(mailbox.port),
        "SCEAU_SMTP_SECURITY": "none",
    }
    get_settings.cache_clear()
    yield CliRunner(env=env)
    get_settings.cache_clear()


def run_json(cli: CliRunner, *args: str) -> object:
    get_settings.cache_clear()
    result = cli.invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_incident_reaches_each_client_on_its_agreed_channel(
    cli: CliRunner, runtime: Runtime, receiver: Receiver, mailbox: Mailbox
) -> None:
    by_mail = provision(runtime, name="Banque Atlantique", body="BANQUESYS")
    by_hook = provision(runtime, name="Atlanta Assurances", body="ATLANTASYS")
    by_both = provision(runtime, name="Immo Plateau", body="IMMOSYS")
    untouched = provision(runtime, name="Hors périmètre", body="HORSSYS")
    for made, channel in ((by_mail, "email"), (by_hook, "webhook"), (by_both, "both")):
        run_json(
            cli,
            "client",
            "set-contact",
            "--client",
            made.client_id,
            "--email",
            f"exploitation@{made.code_09[4:-2].lower()}.example.ci",
            "--channel",
            channel,
        )
    box = SecretBox(runtime.settings.load_master_key())
    with runtime.db.transaction() as session:
        secrets = {
            made.client_id: add_endpoint(
                session,
                box,
                client_id=made.client_id,
                url=receiver.url(f"/{made.client_id}"),
                event_types=["incident.ouvert", "incident.clos"],
                allow_http_loopback=True,
            ).secret
            for made in (by_hook, by_both)
        }

    opened = run_json(
        cli,
        "incident",
        "open",
        "--title",
        "Horodatage indisponible",
        "--impact",
        "Les signatures B-T et plus échouent avec 503 tsa_indisponible.",
        "--clients",
        f"{by_mail.client_id},{by_hook.client_id},{by_both.client_id}",
    )
    assert isinstance(opened, dict)
    drain(make_worker(runtime))

    hooks = {r.path.strip("/"): r for r in receiver.received}
    assert set(hooks) == {by_hook.client_id, by_both.client_id}
    for client_id, got in hooks.items():
        payload = Webhook(secrets[client_id]).verify(got.body, got.headers)
        assert payload["type"] == "incident.ouvert"
        assert payload["data"]["incident"] == opened["id"]
    assert sorted(rcpt for _, [rcpt] in mailbox.envelopes) == [
        "exploitation@banquesys.example.ci",
        "exploitation@immosys.example.ci",
    ]
    message = mailbox.messages[0]
    assert message["Subject"] == (
        f"[Pixel Sceau] Incident {opened['id']} : Horodatage indisponible"
    )
    assert message["Message-ID"].startswith("<dlv_")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Un incident affectant le service Pixel Sceau" in text.get_content()
    assert "503 tsa_indisponible" in html.get_content()
    assert untouched.client_id not in json.dumps([r.path for r in receiver.received])

    listed = run_json(cli, "incident", "list")
    assert isinstance(listed, list)
    [row] = listed
    assert row["avis"] == row["avis_livres"] == 4
    assert row["delai_max_s"] < 60  # our target: under a minute

    run_json(cli, "incident", "update", opened["id"], "--message", "Cause trouvée.")
    closed = run_json(cli, "incident", "close", opened["id"])
    assert isinstance(closed, dict) and closed["etat"] == "clos"
    drain(make_worker(runtime))
    # The webhook endpoints subscribe to ouvert and clos, not to mis_a_jour.
    assert [json.loads(r.body)["type"] for r in receiver.received].count(
        "incident.clos"
    ) == 2
    # Three notices to the two e-mail contacts, and the update to the
    # webhook-only client by e-mail, since no endpoint of its takes updates.
    assert len(mailbox.messages) == 7


def test_closing_a_closed_incident_is_refused(cli: CliRunner, runtime: Runtime) -> None:
    provision(runtime)
    opened = run_json(cli, "incident", "open", "--title", "Lenteur", "--impact", "x")
    assert isinstance(opened, dict)
    run_json(cli, "incident", "close", opened["id"])

    get_settings.cache_clear()
    result = cli.invoke(main, ["incident", "close", opened["id"]])

    assert result.exit_code != 0
    assert "déjà clos" in result.output


def test_webhook_cli_adds_lists_and_redelivers(
    cli: CliRunner, runtime: Runtime, receiver: Receiver
) -> None:
    made = provision(runtime)
    added = run_json(
        cli, "webhook", "add", "--client", made.client_id, "--url", receiver.url()
    )
    assert isinstance(added, dict) and added["secret"].startswith("whsec_")
    listed = run_json(cli, "webhook", "list", "--client", made.client_id)
    assert isinstance(listed, list) and "secret" not in listed[0]
    run_json(cli, "incident", "open", "--title", "Panne", "--impact", "Tout.")
    assert run_json(cli, "worker", "--once") == {"tentatives": 1}

    [delivery] = run_json(cli, "webhook", "deliveries", "--client", made.client_id)  # type: ignore[misc]
    assert delivery["etat"] == "livre" and delivery["essais"][0]["statut_http"] == 200
    again = run_json(cli, "webhook", "redeliver", delivery["id"])
    assert isinstance(again, dict)
    run_json(cli, "worker", "--once")

    assert receiver.ids()[0] == receiver.ids()[1]
    Webhook(added["secret"]).verify(
        receiver.received[1].body, receiver.received[1].headers
    )
    run_json(cli, "webhook", "remove", added["id"])
    assert run_json(cli, "webhook", "list") == []
