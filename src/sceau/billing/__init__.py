"""Plans (« formules »), metering of signatures, and monthly invoices with
their credit notes, numbered without gaps and signed by Pixel Sceau."""
