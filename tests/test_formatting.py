"""Money as people in India write it: the configured symbol, lakh and crore grouping, paise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from booking.formatting import amount, money


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("2500"), "Rs 2,500.00"),
        (Decimal("650"), "Rs 650.00"),
        (Decimal("0.5"), "Rs 0.50"),
        (Decimal("0"), "Rs 0.00"),
        (Decimal("100000"), "Rs 1,00,000.00"),
        (Decimal("1234567.89"), "Rs 12,34,567.89"),
        (Decimal("123456789.5"), "Rs 12,34,56,789.50"),
        (1050, "Rs 1,050.00"),
    ],
)
def test_money_groups_lakhs_and_crores_and_keeps_the_paise(app_ctx, value, written):
    """Indian grouping (1,00,000.00) after the configured symbol; whole amounts keep .00."""
    assert money(value) == written


def test_a_negative_amount_puts_the_sign_before_the_symbol(app_ctx):
    """Discounts and refunds print as '-Rs 50.00', '-Rs 1,00,000.00'."""
    assert money(Decimal("-50")) == "-Rs 50.00"
    assert money(Decimal("-100000")) == "-Rs 1,00,000.00"
    assert money(Decimal("-1234567.89")) == "-Rs 12,34,567.89"


def test_no_amount_is_written_as_nothing(app_ctx):
    """A missing amount is blank, not 'Rs None'."""
    assert money(None) == ""


def test_the_symbol_follows_the_setting(make_app):
    """CURRENCY_SYMBOL changes what is written before the digits, not the grouping."""
    with make_app(CURRENCY_SYMBOL="INR").app_context():
        assert money(Decimal("100000")) == "INR 1,00,000.00"


def test_a_bare_amount_drops_zero_paise_and_groups_the_same_way(app_ctx):
    """For tight spaces: '930', '930.50', '1,00,000'."""
    assert amount(Decimal("930")) == "930"
    assert amount(Decimal("930.5")) == "930.50"
    assert amount(Decimal("100000")) == "1,00,000"
    assert amount(Decimal("1234567.89")) == "12,34,567.89"
