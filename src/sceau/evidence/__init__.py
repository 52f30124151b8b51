"""The evidence file (dossier de preuve): the story of one signature or one
act, told from its records and the audit trail, as JSON and as a PDF signed
by Pixel Sceau."""
