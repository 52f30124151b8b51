"""The web signer: the pages where a person enrols, logs in and signs in
their own name (mode *humaine*), with server-side sessions and CSRF tokens."""
