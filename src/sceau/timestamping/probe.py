"""A pyHanko time-stamper whose probe token can be used by many threads.

pyHanko keeps one probe ("dummy") token per time-stamper and, for B-LT, hands
the certificates it holds to every signature's path validation. asn1crypto and
the certificate validator fill those objects in lazily on first use, which two
threads must never do at once. Here the probe is kept as DER and every caller
gets objects of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from asn1crypto import cms
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import dummy_digest, extract_ts_certs
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore


class ThreadSafeProbe(TimeStamper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._probe_der: dict[str, bytes] = {}

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        der = self._probe_der.get(md_algorithm)
        if der is None:
            token = await self.async_timestamp(dummy_digest(md_algorithm), md_algorithm)
            der = token.dump()
            # Two first callers may both fetch one: either result is right.
            self._probe_der[md_algorithm] = der
        return cms.ContentInfo.load(der)

    async def validation_paths(
        self, validation_context: ValidationContext
    ) -> AsyncIterator[Any]:
        if not self._probe_der:
            await self.async_dummy_response("sha256")
        registry = SimpleCertificateStore()
        leaves = {}
        for der in list(self._probe_der.values()):
            for cert in extract_ts_certs(cms.ContentInfo.load(der), registry):
                leaves[cert.issuer_serial] = cert

        jobs = [
            CertificateValidator(
                cert, intermediate_certs=registry, validation_context=validation_context
            ).async_validate_usage(set(), {"time_stamping"})
            for cert in leaves.values()
        ]
        for job in asyncio.as_completed(jobs):
            yield await job
