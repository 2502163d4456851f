"""Domain errors raised by services; one handler per surface maps them to a message or a 4xx."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; ``message`` is shown to the user as it is."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    """The actor's role may not do this."""

    status_code = 403


class InvalidState(DomainError):
    """The case's state does not allow this action."""

    status_code = 400


class InvalidInput(DomainError):
    """A required value is missing or wrong."""

    status_code = 400
