"""Order totals: one rule (clm.commerce.services.order_totals) for the API and for imports."""

from decimal import Decimal

import pytest

from clm.commerce.services import TotalsMismatch, order_totals


def test_totals_are_the_exact_sums_of_the_lines():
    lines = [{"amount": "0.10", "cost": "0.05"}, {"amount": 0.2}, {"amount": Decimal("1234.50"), "cost": None}]
    assert order_totals(lines) == {"amount": Decimal("1234.80"), "cost": Decimal("0.05")}


def test_an_order_without_lines_totals_zero():
    assert order_totals([]) == {"amount": Decimal("0"), "cost": Decimal("0")}


def test_a_given_total_must_match_the_lines():
    lines = [{"amount": "10.00"}, {"amount": "5.50"}]
    assert order_totals(lines, {"amount": "15.50"})["amount"] == Decimal("15.50")
    with pytest.raises(TotalsMismatch, match=r"15.00 is not the sum of the lines \(15.50\)") as caught:
        order_totals(lines, {"amount": "15.00"})
    assert caught.value.field == "amount"
