"""The domain errors services raise (defined in ``booking.errors``, below every layer)."""

from booking.errors import Busy, ConcurrentChange, Conflict, DomainError, NotFound

__all__ = ["Busy", "ConcurrentChange", "Conflict", "DomainError", "NotFound"]
