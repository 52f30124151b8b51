"""Two asn1crypto costs avoided: a built structure encoded exponentially often,
and the same name strings prepared again for every comparison.

asn1crypto marks a SEQUENCE built from Python values as "mutated" and never
clears the mark, so every read of its encoding re-encodes it, and ``dump()``
reads its own encoding twice (for the header, then the body): a structure
nested d levels deep is re-encoded about 2^d times. pyHanko's CMS signed
attributes are deep enough that this was about 40 % of a B-B signature and
half of a B-T one (docs/benchmarks.md).

The fix clears the mark once the encoding is made. It stays correct because
every later change goes through ``__setitem__``, which sets the mark again on
the changed structure, and a parent asks its SEQUENCE children whether they
changed before it reuses its bytes. ``tests/signing/test_asn1_encoding.py``
checks both, and every signed output is checked by pdfsig, pyHanko's validator
and openssl.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from asn1crypto import core, x509

_PATCHED = "_sceau_encodes_once"


def encode_built_values_once() -> None:
    """Install the fix (idempotent)."""
    for cls in (core.Sequence, core.SequenceOf):
        if getattr(cls._set_contents, _PATCHED, False):
            continue
        cls._set_contents = _clearing_mark(cls._set_contents)


def _clearing_mark(original: Callable[..., None]) -> Callable[..., None]:
    def _set_contents(self: Any, force: bool = False) -> None:
        original(self, force)
        self._mutated = False

    setattr(_set_contents, _PATCHED, True)
    return _set_contents


def prepare_name_strings_once() -> None:
    """Remember RFC 4518 string preparation by input string (idempotent).

    Comparing two certificate names prepares every attribute value (Unicode
    mapping, normalisation, prohibited and bidirectional checks). asn1crypto
    keeps the result on the parsed attribute only, and a verification parses
    its certificates afresh from the document, so the same few strings (our
    CA names, the TSA's) were prepared about 85 times per verification: a
    fifth of it. The preparation is a pure function of the string (it raises
    the same error for the same input), so its results can be shared.
    """
    cls = x509.NameTypeAndValue
    if getattr(cls._ldap_string_prep, _PATCHED, False):
        return
    original = cls._ldap_string_prep

    # The original never reads ``self``.
    @lru_cache(maxsize=4096)
    def prepare(string: str) -> str:
        return original(None, string)

    def _ldap_string_prep(self: Any, string: str) -> str:
        return prepare(string)

    setattr(_ldap_string_prep, _PATCHED, True)
    _ldap_string_prep.original = original  # type: ignore[attr-defined]
    cls._ldap_string_prep = _ldap_string_prep
