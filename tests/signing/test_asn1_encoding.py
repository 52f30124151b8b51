"""The asn1crypto encoding fix keeps encodings right after later changes."""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import algos, cms, core, tsp, x509
from hypothesis import given
from hypothesis import strategies as st

from sceau.signing.asn1_encoding import (
    encode_built_values_once,
    prepare_name_strings_once,
)


def _built_attribute() -> cms.CMSAttribute:
    return cms.CMSAttribute(
        {
            "type": "signing_certificate_v2",
            "values": [
                tsp.SigningCertificateV2(
                    {
                        "certs": [
                            tsp.ESSCertIDv2(
                                {
                                    "hash_algorithm": algos.DigestAlgorithm(
                                        {"algorithm": "sha256"}
                                    ),
                                    "cert_hash": b"\x01" * 32,
                                }
                            )
                        ]
                    }
                )
            ],
        }
    )


def test_built_value_encodes_as_its_parsed_copy() -> None:
    encode_built_values_once()
    built = _built_attribute()

    first = built.dump()

    assert built.dump() == first
    assert cms.CMSAttribute.load(first).dump(force=True) == first


def test_change_after_encoding_is_encoded() -> None:
    encode_built_values_once()
    built = _built_attribute()
    before = built.dump()

    cert_id = built["values"][0]["certs"][0]
    cert_id["cert_hash"] = b"\x02" * 32
    after = built.dump()

    assert after != before
    assert b"\x02" * 32 in after
    reparsed = cms.CMSAttribute.load(after)
    assert reparsed["values"][0]["certs"][0]["cert_hash"].native == b"\x02" * 32


def test_change_deep_in_a_sequence_of_is_encoded() -> None:
    encode_built_values_once()
    outer = core.SequenceOf(spec=algos.DigestAlgorithm)
    outer.append(algos.DigestAlgorithm({"algorithm": "sha256"}))
    before = outer.dump()

    outer[0]["algorithm"] = "sha512"

    assert outer.dump() != before
    assert (
        core.SequenceOf.load(outer.dump(), spec=algos.DigestAlgorithm)[0][
            "algorithm"
        ].native
        == "sha512"
    )


def test_install_is_idempotent() -> None:
    encode_built_values_once()
    installed = core.Sequence._set_contents

    encode_built_values_once()

    assert core.Sequence._set_contents is installed


def _outcome(prepare: Callable[[str], str], text: str) -> tuple[str, str]:
    try:
        return ("ok", prepare(text))
    except ValueError as error:
        return ("refused", str(error))


@given(st.text(max_size=40))
def test_remembered_name_preparation_matches_asn1crypto(text: str) -> None:
    prepare_name_strings_once()
    attribute = x509.NameTypeAndValue()
    original = x509.NameTypeAndValue._ldap_string_prep.original  # type: ignore[attr-defined]

    first = _outcome(attribute._ldap_string_prep, text)
    again = _outcome(attribute._ldap_string_prep, text)

    assert first == again == _outcome(lambda t: original(attribute, t), text)


def test_names_compare_as_before_once_remembered() -> None:
    prepare_name_strings_once()
    ours = x509.Name.build(
        {"common_name": "Pixel Sceau  Émetteur", "country_name": "CI"}
    )
    folded = x509.Name.build(
        {"common_name": "pixel sceau émetteur", "country_name": "CI"}
    )
    other = x509.Name.build({"common_name": "Pixel Sceau TSA", "country_name": "CI"})

    assert ours == folded
    assert ours != other
