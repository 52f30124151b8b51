"""What the matrix in force says of a request: allowed by a rule, outside the
matrix, against it, incomplete, or under a matrix overdue for review."""

from __future__ import annotations

import pytest

from sceau.authority import service
from sceau.authority.service import MatrixVerdict, MatrixVersion
from sceau.errors import SceauError
from sceau.runtime import Runtime
from tests.authority.conftest import (
    START,
    THRESHOLD,
    TODAY,
    check,
    days,
    publish,
    set_catalogue,
)
from tests.conftest import Provisioned
from tests.people.conftest import Registered, register


def refusal(
    runtime: Runtime,
    client: Provisioned,
    *,
    status: int,
    code: str,
    **request: object,
) -> SceauError:
    with pytest.raises(SceauError) as caught:
        check(runtime, client, **request)  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.code) == (status, code)
    return caught.value


def test_nothing_is_enforced_without_a_matrix(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    verdict = check(
        runtime,
        atlanta,
        mode="systeme",
        code_09=atlanta.code_09,
        act_type=None,
        amount=None,
    )

    assert verdict is None


def test_a_request_the_matrix_allows_gets_its_rule(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    verdict = check(
        runtime,
        atlanta,
        mode="systeme",
        code_09=atlanta.code_09,
        act_type="attestation",
        amount=None,
    )

    assert verdict == MatrixVerdict(version=1, rule=matrix.rules[0], warning=None)


def test_the_threshold_belongs_to_the_upper_range(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    below = check(
        runtime,
        atlanta,
        mode="deleguee",
        code_09=notary.code_09,
        act_type="police_assurance",
        amount=THRESHOLD - 1,
    )
    at = check(
        runtime,
        atlanta,
        mode="humaine",
        code_09=notary.code_09,
        act_type="police_assurance",
        amount=THRESHOLD,
    )

    assert below is not None and below.rule.numero == "R2"
    assert at is not None and at.rule.numero == "R3"


def test_the_wrong_mode_is_refused_naming_the_rule(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    error = refusal(
        runtime,
        atlanta,
        status=403,
        code="contraire_a_la_matrice",
        mode="deleguee",
        code_09=notary.code_09,
        act_type="police_assurance",
        amount=THRESHOLD,
    )

    assert error.message == (
        "Selon la règle R3 de la matrice d'autorité (version 1), les actes "
        "« police_assurance » de 5 000 000 FCFA et plus sont signés en mode "
        f"humaine par {notary.code_09} ; cette demande est en mode deleguee par "
        f"{notary.code_09}."
    )
    assert error.as_body() == {
        "erreur": {
            "code": "contraire_a_la_matrice",
            "message": error.message,
            "regle": "R3",
            "version_matrice": 1,
            "mode_attendu": "humaine",
            "code_09_attendu": notary.code_09,
        }
    }


def test_another_signer_is_refused_where_the_rule_names_one(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    other = register(
        runtime, atlanta, name="Maître Yao Kouassi", email="y.kouassi@example.ci"
    )

    error = refusal(
        runtime,
        atlanta,
        status=403,
        code="contraire_a_la_matrice",
        mode="deleguee",
        code_09=other.code_09,
        act_type="police_assurance",
        amount=1_000,
    )

    assert error.details == {
        "regle": "R2",
        "version_matrice": 1,
        "mode_attendu": "deleguee",
        "code_09_attendu": notary.code_09,
    }
    assert "les actes « police_assurance » de moins de 5 000 000 FCFA" in (
        error.message
    )


def test_any_person_may_sign_where_the_rule_names_none(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    other = register(
        runtime, atlanta, name="Maître Yao Kouassi", email="y.kouassi@example.ci"
    )

    verdict = check(
        runtime,
        atlanta,
        mode="humaine",
        code_09=other.code_09,
        act_type="contrat_reassurance",
        amount=1_000_000,
    )
    wrong_mode = refusal(
        runtime,
        atlanta,
        status=403,
        code="contraire_a_la_matrice",
        mode="systeme",
        code_09=atlanta.code_09,
        act_type="contrat_reassurance",
        amount=1_000_000,
    )

    assert verdict is not None and verdict.rule.numero == "R4"
    assert wrong_mode.details is not None
    assert wrong_mode.details["code_09_attendu"] is None
    assert "par une personne (09-…) du client" in wrong_mode.message


def test_an_amount_in_a_gap_is_outside_the_matrix(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    error = refusal(
        runtime,
        atlanta,
        status=403,
        code="hors_matrice",
        mode="humaine",
        code_09=atlanta.code_09,
        act_type="contrat_reassurance",
        amount=999_999,
    )

    assert error.message == (
        "La matrice d'autorité (version 1) ne prévoit aucune règle pour les actes "
        "« contrat_reassurance » de 999 999 FCFA : rien ne peut être signé hors de "
        "la matrice. Vérifiez type_acte et montant, ou faites compléter la "
        "matrice (tranches prévues : de 1 000 000 FCFA et plus)."
    )
    assert error.details == {
        "version_matrice": 1,
        "type_acte": "contrat_reassurance",
        "montant": 999_999,
    }


def test_a_known_kind_without_rules_is_outside_the_matrix(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    set_catalogue(
        runtime,
        atlanta,
        {
            "attestation": "Attestations",
            "police_assurance": "Polices",
            "contrat_reassurance": "Contrats de réassurance",
            "quittance": "Quittances",
        },
    )

    error = refusal(
        runtime,
        atlanta,
        status=403,
        code="hors_matrice",
        mode="systeme",
        code_09=atlanta.code_09,
        act_type="quittance",
        amount=None,
    )

    assert "aucune règle pour les actes « quittance » :" in error.message


def test_a_kind_outside_the_catalogue_reads_as_unknown(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    error = refusal(
        runtime,
        atlanta,
        status=422,
        code="type_acte_inconnu",
        mode="systeme",
        code_09=atlanta.code_09,
        act_type="atestation",
        amount=None,
    )

    assert "« atestation » n'est pas au catalogue" in error.message


def test_a_request_without_act_type_is_refused(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    error = refusal(
        runtime,
        atlanta,
        status=422,
        code="type_acte_requis",
        mode="systeme",
        code_09=atlanta.code_09,
        act_type=None,
        amount=None,
    )

    assert error.message == (
        "Ce client a une matrice d'autorité : chaque demande indique son "
        "type_acte et son montant (entier, en FCFA)."
    )


def test_an_amount_is_required_where_the_rules_depend_on_it(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    error = refusal(
        runtime,
        atlanta,
        status=422,
        code="montant_requis",
        mode="deleguee",
        code_09=notary.code_09,
        act_type="police_assurance",
        amount=None,
    )

    assert error.message == (
        "Les règles de la matrice d'autorité (version 1) pour les actes "
        "« police_assurance » dépendent du montant : indiquez montant (entier, en "
        "FCFA)."
    )


def test_a_negative_amount_is_refused(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    refusal(
        runtime,
        atlanta,
        status=422,
        code="montant_invalide",
        mode="deleguee",
        code_09=notary.code_09,
        act_type="police_assurance",
        amount=-1,
    )


# -- the review date -------------------------------------------------------------

DUE = TODAY + days(10)


@pytest.fixture
def warning_matrix(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> MatrixVersion:
    return publish(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        review_due=DUE,
        policy="avertir",
    )


@pytest.fixture
def refusing_matrix(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> MatrixVersion:
    return publish(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        review_due=DUE,
        policy="refuser",
    )


def attestation(
    runtime: Runtime, atlanta: Provisioned, today: object
) -> MatrixVerdict | None:
    return check(
        runtime,
        atlanta,
        mode="systeme",
        code_09=atlanta.code_09,
        act_type="attestation",
        amount=None,
        today=today,  # type: ignore[arg-type]
    )


def test_on_the_review_date_the_matrix_is_not_late(
    runtime: Runtime, atlanta: Provisioned, refusing_matrix: MatrixVersion
) -> None:
    verdict = attestation(runtime, atlanta, DUE)

    assert verdict is not None and verdict.warning is None


def test_after_the_review_date_a_warning_policy_warns(
    runtime: Runtime, atlanta: Provisioned, warning_matrix: MatrixVersion
) -> None:
    verdict = attestation(runtime, atlanta, DUE + days(1))

    assert verdict is not None and verdict.rule.numero == "R1"
    assert verdict.warning == (
        "La matrice d'autorité (version 1) devait être revue le 2026-12-14 au plus "
        "tard : publiez-en une version revue."
    )
    # The API sends it in a header, in ASCII (see test_enforcement.py).


def test_after_the_review_date_a_refusing_policy_refuses(
    runtime: Runtime, atlanta: Provisioned, refusing_matrix: MatrixVersion
) -> None:
    with pytest.raises(SceauError) as caught:
        attestation(runtime, atlanta, DUE + days(1))

    error = caught.value
    assert (error.status, error.code) == (403, "matrice_a_revoir")
    assert error.message.startswith(
        "La matrice d'autorité (version 1) devait être revue le 2026-12-14 au plus "
        "tard, et sa politique de revue est « refuser »"
    )
    assert error.details == {"version_matrice": 1, "revue_le": "2026-12-14"}


def test_a_reviewed_version_lifts_the_refusal(
    runtime: Runtime, atlanta: Provisioned, refusing_matrix: MatrixVersion
) -> None:
    later = START + days(11)
    publish(
        runtime,
        atlanta,
        [{"type_acte": "attestation", "mode": "systeme"}],
        review_due=DUE + days(365),
        policy="refuser",
        now=later,
    )

    verdict = attestation(runtime, atlanta, later.date())

    assert verdict is not None and verdict.version == 2


def test_a_version_read_after_its_review_date_says_it_is_overdue(
    runtime: Runtime, atlanta: Provisioned, warning_matrix: MatrixVersion
) -> None:
    with runtime.db.sessions() as session:
        on_the_day = service.current(session, atlanta.client_id, START + days(10))
        after = service.current(session, atlanta.client_id, START + days(11))

    assert on_the_day is not None and not on_the_day.overdue
    assert after is not None and after.overdue


# -- letting the matrix decide ------------------------------------------------------


def test_the_matrix_decides_mode_and_signer(
    runtime: Runtime, atlanta: Provisioned, notary: Registered, matrix: MatrixVersion
) -> None:
    with runtime.db.sessions() as session:
        verdict = service.decide(
            session,
            atlanta.client_id,
            act_type="police_assurance",
            amount=THRESHOLD,
            today=TODAY,
        )

    assert (verdict.rule.mode, verdict.rule.code_09) == ("humaine", notary.code_09)


def test_without_a_matrix_nothing_can_decide(
    runtime: Runtime, atlanta: Provisioned, catalogue: dict[str, str]
) -> None:
    with runtime.db.sessions() as session, pytest.raises(SceauError) as caught:
        service.decide(
            session,
            atlanta.client_id,
            act_type="attestation",
            amount=None,
            today=TODAY,
        )

    assert (caught.value.status, caught.value.code) == (409, "matrice_absente")


def test_the_matrix_decides_nothing_outside_its_rules(
    runtime: Runtime, atlanta: Provisioned, matrix: MatrixVersion
) -> None:
    with runtime.db.sessions() as session, pytest.raises(SceauError) as caught:
        service.decide(
            session,
            atlanta.client_id,
            act_type="contrat_reassurance",
            amount=10,
            today=TODAY,
        )

    assert caught.value.code == "hors_matrice"
