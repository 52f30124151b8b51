from sceau.clients.errors import ApiKeyInvalid, ApiKeyMissing

__all__ = ["ApiKeyInvalid", "ApiKeyMissing"]
