"""A client's catalogue of act kinds (``type_acte``), shared by delegations and
the authority matrix."""
