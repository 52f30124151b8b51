"""People: professionals who sign in their own name, with a personal ``09-…``
identity, a password and a TOTP second factor."""
