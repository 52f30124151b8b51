"""Tests of delegations and their envelopes."""
