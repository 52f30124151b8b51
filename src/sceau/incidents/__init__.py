"""Incidents declared by the operator and the notices sent to clients."""
