"""A client's authority matrix (« matrice d'autorité »): which signing mode,
and which signer, for which kind of act and amount."""
