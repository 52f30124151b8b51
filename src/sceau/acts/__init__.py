"""Acts: a document a client's system prepares for one of its people to sign
in person (mode *humaine déclenchée par API*)."""
