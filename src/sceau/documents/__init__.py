"""Documents Pixel Sceau writes and signs in its own name: a verification
report today, invoices and evidence files later. ``layout`` writes a French A4
PDF; ``sealing`` signs it with the service's own system identity, through the
same pipeline as every other signature."""
