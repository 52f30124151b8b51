"""Notices to people by e-mail: client contacts, SMTP, French templates."""
