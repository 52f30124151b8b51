"""SLA indicators: what the service measures of itself, per client and month,
beside the targets of the client's plan (the sheet's section 6)."""
