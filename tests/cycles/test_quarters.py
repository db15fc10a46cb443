import itertools
from datetime import date

import pytest

from cycles.quarters import fiscal_quarters, fiscal_year_of, quarter_containing


@pytest.mark.parametrize("start_month", range(1, 13))
def test_quarters_tile_the_fiscal_year(start_month):
    quarters = fiscal_quarters(2026, start_month)
    assert quarters[0].start == date(2026, start_month, 1)
    for a, b in itertools.pairwise(quarters):
        assert (b.start - a.end).days == 1
    assert (quarters[3].end - quarters[0].start).days in (364, 365)


def test_fiscal_year_and_containing_quarter():
    assert fiscal_year_of(date(2026, 3, 31), 4) == 2025
    assert fiscal_year_of(date(2026, 4, 1), 4) == 2026
    q = quarter_containing(date(2027, 2, 14), 10)
    assert (q.name, q.start, q.end) == ("FY2026 Q2", date(2027, 1, 1), date(2027, 3, 31))


def test_bad_month_is_refused():
    with pytest.raises(ValueError):
        fiscal_quarters(2026, 13)
