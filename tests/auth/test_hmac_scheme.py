"""The level-B scheme on its own: header, canonical string, MAC."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sceau.auth.hmac_scheme import (
    MalformedSignatureHeader,
    SignatureHeader,
    canonical_query,
    canonical_string,
    key_id_of,
    parse_header,
    sign_request,
)

SECRET = "phs_0123456789ab_un-secret-de-test"


def test_canonical_string_is_nine_lines_without_final_newline() -> None:
    canonical = canonical_string(
        key_id="hmk_0123456789ab",
        timestamp=1764756000,
        nonce="abcdefghijklmnop",
        method="post",
        host="API.CIPIXEL.COM",
        path="/api/v1/sceau/b2b/signer",
        query="b=2&a=1",
        body_sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )

    assert canonical == (
        "PIXEL-HMAC-SHA256-V1\n"
        "hmk_0123456789ab\n"
        "1764756000\n"
        "abcdefghijklmnop\n"
        "POST\n"
        "api.cipixel.com\n"
        "/api/v1/sceau/b2b/signer\n"
        "a=1&b=2\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_query_pairs_sort_by_name_then_value_without_decoding() -> None:
    assert canonical_query("") == ""
    assert canonical_query("z=1&a=%2F&a=%20&flag") == "a=%20&a=%2F&flag=&z=1"
    assert canonical_query("a=1&&b=2") == "a=1&b=2"


def test_signed_header_round_trips_and_the_mac_is_plain_hmac_sha256() -> None:
    header = parse_header(
        sign_request(
            SECRET,
            method="GET",
            host="testserver",
            path="/x",
            query="",
            body=b"",
            timestamp=1764756000,
            nonce="abcdefghijklmnop",
        )
    )
    canonical = canonical_string(
        key_id="hmk_0123456789ab",
        timestamp=1764756000,
        nonce="abcdefghijklmnop",
        method="GET",
        host="testserver",
        path="/x",
        query="",
        body_sha256=hashlib.sha256(b"").hexdigest(),
    )

    assert header.key_id == key_id_of(SECRET) == "hmk_0123456789ab"
    assert (
        header.mac
        == hmac.new(SECRET.encode(), canonical.encode(), "sha256").hexdigest()
    )


def test_secret_without_the_prefix_is_not_a_secret() -> None:
    with pytest.raises(ValueError, match="phs_"):
        key_id_of("psk_0123456789ab_this-is-an-api-key")


@given(st.text(max_size=600))
def test_parser_refuses_anything_malformed_with_its_own_error(value: str) -> None:
    try:
        parsed = parse_header(value)
    except MalformedSignatureHeader:
        return
    assert isinstance(parsed, SignatureHeader)
    assert parse_header(parsed.render()) == parsed


@given(
    st.lists(
        st.tuples(
            st.text("abc%2F", min_size=1, max_size=4), st.text("xyz", max_size=3)
        ),
        max_size=6,
    )
)
def test_any_order_of_the_same_pairs_gives_the_same_query(
    pairs: list[tuple[str, str]],
) -> None:
    forward = "&".join(f"{k}={v}" for k, v in pairs)
    backward = "&".join(f"{k}={v}" for k, v in reversed(pairs))

    assert canonical_query(forward) == canonical_query(backward)
