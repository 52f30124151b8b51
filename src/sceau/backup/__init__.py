"""Backups: one encrypted file holding a consistent copy of the database and
the data directory's key material, and the restore that brings them back."""
