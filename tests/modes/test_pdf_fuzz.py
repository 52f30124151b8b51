"""Whatever bytes a client sends as a PDF, the answer is a signature or a
clear 422, never a 500."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Provisioned, sign_body
from tests.support.pdfs import one_page_pdf

SOURCE = one_page_pdf()


@st.composite
def damaged_pdfs(draw: st.DrawFn) -> bytes:
    data = bytearray(SOURCE)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            data[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=40))
        if not data:
            break
    return bytes(data)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(damaged=damaged_pdfs())
def test_damaged_pdf_is_signed_or_refused_clearly(
    api: TestClient, atlanta: Provisioned, damaged: bytes
) -> None:
    response = api.post(
        "/api/v1/sceau/b2b/signer",
        headers=atlanta.headers,
        json=sign_body(atlanta, damaged, niveau="B-LT"),
    )

    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        error = response.json()["erreur"]
        assert error["code"].startswith("pdf_")
        assert error["message"]
    else:
        assert base64.b64decode(response.json()["pdf_signe_b64"]).startswith(b"%PDF")
