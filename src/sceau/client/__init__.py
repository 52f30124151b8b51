"""The Python client for the Pixel Sceau B2B API, at every authentication level.

::

    from sceau.client import SceauClient

    with SceauClient(
        "https://api.cipixel.com",
        api_key=os.environ["PIXEL_API_KEY"],
        hmac_secret=os.environ.get("PIXEL_HMAC_SECRET"),  # level B
        cert=("client.pem", "client.key"),  # level C: PEM files, or a .p12
    ) as sceau:
        signed = sceau.sign_system(code_09=..., nom_signataire=..., motif=...,
                                   pdf=open("acte.pdf", "rb").read())

Every request carries the API key; with ``hmac_secret`` it is also signed
(``X-Pixel-Signature``, a fresh nonce each time, including each retry); with
``cert`` it goes over mutual TLS. Signing requests get an ``Idempotency-Key``
generated here and kept across retries, so a retry after a lost answer never
signs (nor bills) twice. API errors raise ``SceauApiError`` carrying the API's
``code``.
"""

from sceau.client.errors import SceauApiError, SceauTransportError
from sceau.client.sync import SceauClient, SignedDocument

__all__ = ["SceauApiError", "SceauClient", "SceauTransportError", "SignedDocument"]
