"""A client's integration life cycle (the sheet's section 5): cadrage,
convention, provisioning, pilot and production, each step an operator's
recorded decision; a client in pilot signs under a daily cap and a visible
marker."""
