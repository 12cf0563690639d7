"""The domain errors every layer understands; each message is written for the person who will
read it. ``booking.services.errors`` re-exports them for the services."""


class DomainError(Exception):
    """A rule refused the request. ``status`` is the HTTP status a view or the API should use."""

    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The thing asked for does not exist, or is not the asker's to see."""

    status = 404


class Conflict(DomainError):
    """The request lost to the current state (a seat taken, a hold lapsed)."""

    status = 409


class Busy(DomainError):
    """Someone else is changing the same rows right now; trying again shortly will work."""

    status = 503


class ConcurrentChange(Conflict):
    """The rows a transaction worked on kept changing under it until the retries ran out."""
