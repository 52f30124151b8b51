"""Private keys in a PKCS#11 token: the module, a pool of logged-in sessions,
keys generated inside the token, and ``sceau hsm status``."""
