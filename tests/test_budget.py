"""Budget strings: every documented form, exactly, and one-line errors for the rest."""
import pytest

from nas.budget import format_flops, parse_budget
from search_spaces.errors import BudgetError


@pytest.mark.parametrize("text, macs", [
    # the four forms the README and the developers' guide document
    ("300M", 300_000_000), ("300MFLOPs", 300_000_000), ("0.3G", 300_000_000), ("4.1GFLOPs", 4_100_000_000),
    # the same units as people also write them: singular, MACs, any case, a space before the unit
    ("300MFLOP", 300_000_000), ("300 MFLOPs", 300_000_000), ("300M FLOPs", 300_000_000),
    ("600MMACs", 600_000_000), ("600MMAC", 600_000_000), ("1.5gflops", 1_500_000_000), (" 20K ", 20_000),
    (".5T", 500_000_000_000),
])
def test_documented_and_common_forms(text, macs):
    assert parse_budget(text) == macs


@pytest.mark.parametrize("text", ["300", "-5M", "3XFLOPs", "300MFLOPSS", "M", "300 M F", "1e9", "", "300MB"])
def test_malformed_budgets_name_the_text_and_the_forms(text):
    with pytest.raises(BudgetError, match=r"^budget .* is not understood; give a positive number with a unit, "
                                          r"e\.g\. 300M, 300MFLOPs, 0\.3G, 4\.1GFLOPs$"):
        parse_budget(text)


def test_zero_is_refused_as_not_positive():
    with pytest.raises(BudgetError, match="must be positive"):
        parse_budget("0M")


def test_round_trip_through_the_printed_figure():
    # what the front tables print parses back to the budget it came from (to its printed precision)
    assert parse_budget(format_flops(300_000_000)) == 300_000_000
    assert parse_budget(format_flops(4_100_000_000)) == 4_100_000_000
