"""What the client's authority matrix says of a request, for the modes: the
rule's version goes into the signature's record, its warning into the answer.

A client without a matrix is not held to one (``None``); see
``sceau.authority.service.check_request`` for the refusals.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sceau.authority.service import MatrixVerdict, business_date, check_request
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
    return check_request(
        session,
        client_id,
        mode=mode,
        code_09=code_09,
        act_type=act_type,
        amount=amount,
        today=business_date(now or utcnow()),
    )


def version_of(verdict: MatrixVerdict | None) -> int | None:
    return None if verdict is None else verdict.version


def warning_of(verdict: MatrixVerdict | None) -> str | None:
    return None if verdict is None else verdict.warning
