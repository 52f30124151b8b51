"""Webhook endpoints, Standard Webhooks signatures and SSRF-safe delivery."""
