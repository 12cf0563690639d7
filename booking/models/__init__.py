"""The data model of DESIGN.md, one module per aggregate; importing this registers every table."""

from booking.models.activity import ActivityLog
from booking.models.booking import Booking, BookingSeat, Cancellation, Ticket
from booking.models.bus import Bus
from booking.models.email import OutboxEmail
from booking.models.hold import Reservation, ReservationSeat
from booking.models.payment import Payment, PaymentEvent, Refund
from booking.models.promo import PromoCode
from booking.models.route import Route, RouteStop
from booking.models.schedule import Schedule, Seat
from booking.models.shift import Shift, ShiftMovement
from booking.models.user import User
from booking.models.wallet import Wallet, WalletTransaction

__all__ = [
    "ActivityLog",
    "Booking",
    "BookingSeat",
    "Bus",
    "Cancellation",
    "OutboxEmail",
    "Payment",
    "PaymentEvent",
    "PromoCode",
    "Refund",
    "Reservation",
    "ReservationSeat",
    "Route",
    "RouteStop",
    "Schedule",
    "Seat",
    "Shift",
    "ShiftMovement",
    "Ticket",
    "User",
    "Wallet",
    "WalletTransaction",
]
