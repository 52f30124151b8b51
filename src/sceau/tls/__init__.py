"""The mutual-TLS front that level C goes through."""
