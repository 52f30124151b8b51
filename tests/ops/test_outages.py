"""Every 503 tells the client when to retry, and a background loop logs an
outage (the database, the disk, the token) as one line with its own code,
not as a bug's trace on every sweep."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pytest

import sceau
from sceau.errors import DatabaseUnavailable, ServiceUnavailable
from sceau.hsm.errors import HsmUnavailable, SigningKeyMissing
from sceau.ops.loops import outage, step_failed

log = logging.getLogger("tests.ops.loop")


def _every_unavailable() -> list[type[ServiceUnavailable]]:
    """Every 503 of the service: each ``sceau.…errors`` module imported, then
    the subclasses of ServiceUnavailable, at any depth."""
    for found in pkgutil.walk_packages(sceau.__path__, "sceau."):
        if found.name.endswith(".errors"):
            importlib.import_module(found.name)
    kinds: list[type[ServiceUnavailable]] = []
    pending: list[type[ServiceUnavailable]] = [ServiceUnavailable]
    while pending:
        kind = pending.pop()
        kinds.append(kind)
        pending.extend(kind.__subclasses__())
    return kinds


UNAVAILABLE = _every_unavailable()


def test_the_walk_finds_the_known_503s() -> None:
    assert {kind.code for kind in UNAVAILABLE} >= {
        "service_indisponible",
        "base_indisponible",
        "espace_disque_plein",
        "hsm_indisponible",
        "cle_de_signature_introuvable",
        "tsa_indisponible",
        "validation_indisponible",
    }


@pytest.mark.parametrize("kind", UNAVAILABLE, ids=lambda kind: kind.code)
def test_every_503_carries_retry_after(kind: type[ServiceUnavailable]) -> None:
    error = kind()

    assert error.status == 503
    assert error.headers is not None
    assert int(error.headers["Retry-After"]) > 0
    assert error.message and error.code != "erreur_interne"


def test_retry_after_keeps_each_kind_s_own_delay() -> None:
    assert [
        kind().headers
        for kind in (DatabaseUnavailable, HsmUnavailable, SigningKeyMissing)
    ] == [{"Retry-After": "5"}, {"Retry-After": "5"}, {"Retry-After": "3600"}]
    assert DatabaseUnavailable(retry_after=2).headers == {"Retry-After": "2"}


def _wrapped(cause: BaseException) -> RuntimeError:
    try:
        raise cause
    except BaseException as exc:
        try:
            raise RuntimeError("une étape de la boucle") from exc
        except RuntimeError as wrapped:
            return wrapped


@pytest.mark.parametrize("failures", [1, 2])
def test_a_token_outage_in_a_loop_is_one_line_with_its_code(
    caplog: pytest.LogCaptureFixture, failures: int
) -> None:
    failure = _wrapped(HsmUnavailable())

    with caplog.at_level(logging.WARNING, logger=log.name):
        step_failed(log, "essai", failure, failures)

    assert isinstance(outage(failure), HsmUnavailable)
    [record] = caplog.records
    assert record.msg == "essai.step_failed"
    assert record.levelno == logging.WARNING
    assert not record.exc_info
    assert record.code == "hsm_indisponible"  # type: ignore[attr-defined]
    assert record.reason == "hsm_indisponible"  # type: ignore[attr-defined]


def test_a_bug_in_a_loop_keeps_its_trace_and_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = _wrapped(KeyError("champ"))

    with caplog.at_level(logging.WARNING, logger=log.name):
        step_failed(log, "essai", failure, 1)

    assert outage(failure) is None
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info
    assert record.code == "erreur_interne"  # type: ignore[attr-defined]
