"""A person's permission for a client's system to sign in their name."""
