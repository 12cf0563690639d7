"""The closed sets of values of DESIGN.md; each column using one is CHECK-constrained to it."""

from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


class BusType(StrEnum):
    STANDARD = "standard"
    DELUXE = "deluxe"
    SLEEPER = "sleeper"
    SEMI_SLEEPER = "semi_sleeper"


class SeatType(StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"
    SLEEPER = "sleeper"


class StopKind(StrEnum):
    """A route's stop: where passengers get on, or get off."""

    BOARDING = "boarding"
    DROPPING = "dropping"


class ScheduleStatus(StrEnum):
    SCHEDULED = "scheduled"
    DEPARTED = "departed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SeatStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    BOOKED = "booked"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RELEASED = "released"


class Channel(StrEnum):
    ONLINE = "online"
    DESK = "desk"
    API = "api"


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class BookingPaymentStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class BookingSeatStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class PaymentMethod(StrEnum):
    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"
    UPI = "upi"
    NET_BANKING = "net_banking"
    WALLET = "wallet"
    CASH = "cash"


GATEWAY_METHODS = (
    PaymentMethod.CREDIT_CARD,
    PaymentMethod.DEBIT_CARD,
    PaymentMethod.UPI,
    PaymentMethod.NET_BANKING,
)


class PaymentPurpose(StrEnum):
    BOOKING = "booking"
    TOPUP = "topup"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"


class LedgerKind(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    REFUND = "refund"


class TicketValidity(StrEnum):
    VALID = "valid"
    USED = "used"
    CANCELLED = "cancelled"


class RefundMode(StrEnum):
    WALLET = "wallet"
    ORIGINAL = "original"


class RefundStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class RefundMethod(StrEnum):
    """Where a refund's money goes: the wallet, back through the gateway, cash at the counter,
    or the counter's card/UPI terminal."""

    WALLET = "wallet"
    GATEWAY = "gateway"
    CASH = "cash"
    TERMINAL = "terminal"


class PromoKind(StrEnum):
    PERCENT = "percent"
    FLAT = "flat"


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class MovementKind(StrEnum):
    """What a shift movement records. The drawer kinds move cash; card and UPI sales are kept
    for the report by method and never count towards the cash in the drawer."""

    OPENING_FLOAT = "opening_float"
    CASH_SALE = "cash_sale"
    CASH_REFUND = "cash_refund"
    FLOAT_CHANGE = "float_change"
    CARD_SALE = "card_sale"
    UPI_SALE = "upi_sale"


CASH_MOVEMENTS = (
    MovementKind.OPENING_FLOAT,
    MovementKind.CASH_SALE,
    MovementKind.CASH_REFUND,
    MovementKind.FLOAT_CHANGE,
)
