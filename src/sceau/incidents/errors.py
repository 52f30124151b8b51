"""What can go wrong with incidents (operator commands)."""

from sceau.errors import Conflict, NotFound, Unprocessable


class IncidentNotFound(NotFound):
    code = "incident_inconnu"
    message = "Aucun incident ne porte cet id."


class IncidentClosed(Conflict):
    code = "incident_clos"
    message = "Cet incident est déjà clos."


class InvalidIncident(Unprocessable):
    code = "incident_invalide"
    message = "Un incident a besoin d'un titre et d'un impact."
