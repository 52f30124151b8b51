"""RFC 3161 time-stamping: the embedded authority and external fallbacks."""
