"""Publishing a matrix: what is refused and why, versions that follow one
another and never change, and publishes at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, update

from sceau.authority import service
from sceau.authority.errors import InvalidMatrix
from sceau.authority.models import AuthorityMatrix
from sceau.authority.service import MatrixVersion, add_months
from sceau.errors import SceauError
from sceau.identities.models import Identity
from sceau.runtime import Runtime
from tests.authority.conftest import (
    NEXT_REVIEW,
    START,
    THRESHOLD,
    TODAY,
    days,
    insurer_rules,
    publish,
    set_catalogue,
)
from tests.conftest import Provisioned
from tests.people.conftest import Registered, register


def refused(
    runtime: Runtime, client: Provisioned, rules: list[dict[str, Any]], **kwargs: Any
) -> str:
    with pytest.raises(InvalidMatrix) as caught:
        publish(runtime, client, rules, **kwargs)
    assert caught.value.code == "matrice_invalide"
    assert caught.value.status == 422
    return caught.value.message


def stored_versions(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuthorityMatrix)) or 0
        )


# -- versions ------------------------------------------------------------------


def test_first_publish_is_version_one_with_numbered_rules(
    matrix: MatrixVersion, atlanta: Provisioned, notary: Registered
) -> None:
    assert matrix.version == 1
    assert [r.numero for r in matrix.rules] == ["R1", "R2", "R3", "R4"]
    assert matrix.rules[2].montant_min == THRESHOLD
    assert matrix.rules[2].code_09 == notary.code_09
    assert matrix.review_due == NEXT_REVIEW
    assert matrix.overdue_policy == "avertir"
    assert matrix.author == "operateur"
    assert matrix.created_at == START
    assert matrix.overdue is False


def test_each_publish_is_a_new_version_and_earlier_ones_stay_as_they_were(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    with runtime.db.sessions() as session:
        first_row = session.scalars(select(AuthorityMatrix)).one()
        stored_rules = first_row.rules

    later = START + days(30)
    second = publish(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        policy="refuser",
        now=later,
    )
    third = publish(runtime, atlanta, insurer_rules(atlanta, notary), now=later)

    assert (second.version, third.version) == (2, 3)
    with runtime.db.sessions() as session:
        assert service.version(session, atlanta.client_id, 1, later) == matrix
        assert service.current(session, atlanta.client_id, later) == third
        listed = service.versions(session, atlanta.client_id, later)
        row = session.scalars(
            select(AuthorityMatrix).where(AuthorityMatrix.version == 1)
        ).one()
    assert [v.version for v in listed] == [3, 2, 1]
    assert listed[1].overdue_policy == "refuser"
    assert row.rules == stored_rules


def test_the_version_in_force_published_again_is_no_new_version(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    """A request sent twice (its first answer lost, or sent again by a
    balancer) publishes once; any difference is a new version."""
    later = START + days(1)
    rules = insurer_rules(atlanta, notary)

    again = publish(runtime, atlanta, rules, now=later)
    renumbered = publish(
        runtime,
        atlanta,
        [{**rule, "numero": f"X{n}"} for n, rule in enumerate(rules)],
        now=later,
    )
    reviewed = publish(
        runtime, atlanta, rules, review_due=NEXT_REVIEW - days(1), now=later
    )
    stricter = publish(
        runtime,
        atlanta,
        rules,
        review_due=NEXT_REVIEW - days(1),
        policy="refuser",
        now=later,
    )
    reordered = publish(
        runtime,
        atlanta,
        rules[::-1],
        review_due=NEXT_REVIEW - days(1),
        policy="refuser",
        now=later,
    )

    assert again == renumbered == matrix
    assert again.created_at == START
    assert (reviewed.version, stricter.version, reordered.version) == (2, 3, 4)
    assert stored_versions(runtime) == 4


def test_versions_are_counted_per_client(
    runtime: Runtime, matrix: MatrixVersion, beta: Provisioned
) -> None:
    set_catalogue(runtime, beta)

    other = publish(runtime, beta, [{"type_acte": "attestation", "mode": "systeme"}])

    assert other.version == 1
    with runtime.db.sessions() as session:
        assert [
            v.version for v in service.versions(session, beta.client_id, START)
        ] == [1]
        with pytest.raises(SceauError) as caught:
            service.version(session, beta.client_id, 2, START)
    assert caught.value.code == "version_matrice_inconnue"
    assert caught.value.status == 404


def test_concurrent_publishes_each_get_their_own_version(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    start = threading.Barrier(4, timeout=30)

    def publish_one(index: int) -> int:
        start.wait()
        rules = [{"type_acte": "attestation", "mode": "systeme"}]
        # Each a matrix of its own: the same one again is no new version.
        review_due = NEXT_REVIEW - days(index)
        return publish(runtime, atlanta, rules, review_due=review_due).version

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = list(pool.map(publish_one, range(4)))

    assert sorted(numbers) == [1, 2, 3, 4]
    assert stored_versions(runtime) == 4


# Only PostgreSQL lets two write transactions interleave; SQLite runs one at a
# time, so the case cannot arise there.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_publish_that_skipped_the_lock_gets_a_conflict(
    runtime: Runtime,
    atlanta: Provisioned,
    catalogue: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unique (client, version) constraint is the last guard: two writers
    that both read the last version before either wrote get one 409."""
    both_read = threading.Barrier(2, timeout=30)
    to_json = service.rules_to_json

    def after_both_read(rules: Any) -> str:
        both_read.wait()
        return to_json(rules)

    monkeypatch.setattr(service, "lock_client", lambda session, client_id: None)
    monkeypatch.setattr(service, "rules_to_json", after_both_read)

    def publish_one(_: int) -> int | SceauError:
        try:
            rules = [{"type_acte": "attestation", "mode": "systeme"}]
            return publish(runtime, atlanta, rules).version
        except SceauError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(publish_one, range(2)))

    errors = [o for o in outcomes if isinstance(o, SceauError)]
    assert [o for o in outcomes if isinstance(o, int)] == [1]
    assert [(e.code, e.status) for e in errors] == [("conflit", 409)]
    assert "renvoyez la requête" in errors[0].message
    assert stored_versions(runtime) == 1


# -- what the rules may name -----------------------------------------------------


def test_an_act_type_outside_the_catalogue_is_refused(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    message = refused(
        runtime,
        atlanta,
        [
            {"type_acte": "attestation", "mode": "systeme"},
            {"type_acte": "pret_immobilier", "mode": "humaine"},
        ],
    )

    assert message == (
        "Règle R2 : le type d'acte « pret_immobilier » n'est pas au catalogue de "
        "ce client (types connus : attestation, contrat_reassurance, "
        "police_assurance)."
    )
    assert stored_versions(runtime) == 0


def test_a_client_without_catalogue_is_told_to_make_one(
    runtime: Runtime, atlanta: Provisioned
) -> None:
    message = refused(
        runtime, atlanta, [{"type_acte": "attestation", "mode": "systeme"}]
    )

    assert "le catalogue est vide" in message
    assert "PUT /api/v1/sceau/b2b/types-acte" in message


def test_a_person_cannot_be_named_in_system_mode(
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    message = refused(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme", "code_09": notary.code_09}],
    )

    assert message == (
        "Règle R1 : en mode systeme, code_09 désigne une identité système "
        f"(09S-…), pas {notary.code_09}."
    )


@pytest.mark.parametrize("mode", ["deleguee", "humaine"])
def test_a_system_cannot_be_named_for_a_person(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str], mode: str
) -> None:
    message = refused(
        runtime,
        atlanta,
        [{"type_acte": "police_assurance", "mode": mode, "code_09": atlanta.code_09}],
    )

    assert message == (
        f"Règle R1 : en mode {mode}, code_09 désigne une personne (09-…), pas "
        f"{atlanta.code_09}."
    )


def test_a_mistyped_code_is_refused(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    message = refused(
        runtime,
        atlanta,
        [
            {
                "type_acte": "attestation",
                "mode": "systeme",
                "code_09": "09S-ATLANTASYS-Y",
            }
        ],
    )

    assert message.startswith("Règle R1 : code_09 — Le caractère de contrôle")


def test_another_clients_identity_reads_as_unknown(
    runtime: Runtime,
    atlanta: Provisioned,
    beta: Provisioned,
    catalogue: dict[str, str],
) -> None:
    theirs = refused(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme", "code_09": beta.code_09}],
    )
    nobodys = refused(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme", "code_09": "09S-NOBODY-P"}],
    )

    assert theirs == (f"Règle R1 : {beta.code_09} n'est pas une identité de ce client.")
    assert nobodys == "Règle R1 : 09S-NOBODY-P n'est pas une identité de ce client."


def test_a_revoked_identity_is_refused(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(Identity)
            .where(Identity.code_09 == atlanta.code_09)
            .values(revoked_at=START)
        )

    message = refused(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme", "code_09": atlanta.code_09}],
    )

    assert message == (
        f"Règle R1 : l'identité {atlanta.code_09} est révoquée et ne peut plus signer."
    )


def test_any_identity_of_the_right_kind_may_be_left_open(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    published = publish(
        runtime, atlanta, [{"type_acte": "contrat_reassurance", "mode": "humaine"}]
    )

    assert published.rules[0].code_09 is None


# -- the review date and its policy ------------------------------------------------


def test_the_review_date_lies_ahead_within_thirteen_months(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    rules = [{"type_acte": "attestation", "mode": "systeme"}]
    latest = add_months(TODAY, 13)

    today = refused(runtime, atlanta, rules, review_due=TODAY)
    too_far = refused(runtime, atlanta, rules, review_due=latest + days(1))
    tomorrow = publish(runtime, atlanta, rules, review_due=TODAY + days(1))
    furthest = publish(runtime, atlanta, rules, review_due=latest)

    assert latest == date(2028, 1, 4)
    assert today == (
        "revue_le (2026-12-04) doit être une date à venir : la matrice est revue "
        "au moins une fois par an."
    )
    assert too_far == (
        "revue_le (2028-01-05) est trop lointaine : la matrice d'autorité est "
        "revue chaque année, au plus tard le 2028-01-04 (13 mois)."
    )
    assert (tomorrow.version, furthest.version) == (1, 2)


def test_thirteen_months_after_a_long_month_end_at_a_short_ones_last_day() -> None:
    assert add_months(date(2026, 1, 31), 13) == date(2027, 2, 28)
    assert add_months(date(2027, 1, 31), 13) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 4), 1) == date(2027, 1, 4)


def test_an_unknown_review_policy_is_refused(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    message = refused(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        policy="ignorer",
    )

    assert message == (
        "La politique de revue « ignorer » est inconnue : politique_revue vaut "
        "avertir ou refuser."
    )


def test_a_second_person_may_be_named_in_another_rule(
    runtime: Runtime,
    atlanta: Provisioned,
    notary: Registered,
    catalogue: dict[str, str],
) -> None:
    second = register(
        runtime, atlanta, name="Maître Yao Kouassi", email="y.kouassi@example.ci"
    )

    published = publish(
        runtime,
        atlanta,
        [
            {
                "type_acte": "police_assurance",
                "mode": "humaine",
                "code_09": second.code_09,
            },
            {
                "type_acte": "contrat_reassurance",
                "mode": "deleguee",
                "code_09": notary.code_09,
            },
        ],
    )

    assert [r.code_09 for r in published.rules] == [second.code_09, notary.code_09]
