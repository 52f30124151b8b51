"""The console (``/console``): a client's administrators and readers follow
their usage, invoices, credentials and indicators; the operator does the same
for every client, and moves clients through their life cycle."""
