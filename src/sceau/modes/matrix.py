"""What the client's authority matrix says of a request, for the modes: the
rule's version goes into the signature's record, its warning into the answer.

A client without a matrix is not held to one (``None``); see
``sceau.authority.service.check_request`` for the refusals.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sceau.authority.service import MatrixVerdict, business_date, check_request
from sceau.catalogue.service import require_known
from sceau.db import utcnow


def matrix_verdict(
    session: Session,
    client_id: str,
    *,
    mode: str,
    code_09: str,
    act_type: str | None,
    amount: int | None,
    now: datetime | None = None,
) -> MatrixVerdict | None:
    verdict = check_request(
        session,
        client_id,
        mode=mode,
        code_09=code_09,
        act_type=act_type,
        amount=amount,
        today=business_date(now or utcnow()),
    )
    if verdict is None and act_type is not None:
        # Without a matrix a declared kind is still one of the catalogue's:
        # it is recorded with the signature, and read back years later.
        require_known(session, client_id, [act_type])
    return verdict


def version_of(verdict: MatrixVerdict | None) -> int | None:
    return None if verdict is None else verdict.version


def warning_of(verdict: MatrixVerdict | None) -> str | None:
    return None if verdict is None else verdict.warning
