"""Pixel Sceau: PAdES electronic signatures, RFC 3161 timestamps, Bitcoin anchoring."""

__version__ = "0.1.0"
