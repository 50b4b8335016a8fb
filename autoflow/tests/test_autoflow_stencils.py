"""Date stencils are half-open (FlowKit after PR #1773): the cases of FlowKit's date-stencil tests, with the
expected values worked out from the rules (a single element d is [d, d+1); a pair excludes its end)."""

from __future__ import annotations

import datetime as dt

import pytest

from autoflow.stencils import DateStencil, InvalidInterval


def d(day: int, month: int = 1, year: int = 2016) -> dt.date:
    return dt.date(year, month, day)


def test_elements_become_half_open_intervals() -> None:
    stencil = DateStencil.parse([d(1), -4, [d(2), d(3)], [-3, -1], [d(1), -1], [0, 1]])
    assert stencil.intervals == (
        (d(1), d(2)),
        (-4, -3),
        (d(2), d(3)),
        (-3, -1),
        (d(1), -1),
        (0, 1),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["BAD_ELEMENT"], r"date_stencil\[0\]: 'BAD_ELEMENT' is not a date"),
        ([[-1, "BAD_ELEMENT"]], r"date_stencil\[0\]\[1\]: 'BAD_ELEMENT' is not a date"),
        (-1, "must be a list"),
        ([[-3, -2, -1]], r"date_stencil\[0\]: an interval is a \[start, end\] pair, got 3"),
        ([[-1, -2]], r"\[-1, -2\] is reversed"),
        ([[-1, -1]], r"\[-1, -1\] is empty"),  # half-open: [d, d) holds no day
        ([[d(1), d(1)]], r"\[2016-01-01, 2016-01-01\] is empty"),
        ([0, True], r"date_stencil\[1\]: True is not a date"),
        ([dt.datetime(2016, 1, 1, 12)], "has a time of day"),
    ],
)
def test_mistakes_are_refused_when_parsed(raw, message) -> None:
    with pytest.raises(ValueError, match=message):
        DateStencil.parse(raw)


def test_iso_strings_are_dates() -> None:
    assert DateStencil.parse(["2016-01-03"]).intervals == ((d(3), d(4)),)


def test_date_ranges_for_a_reference_date() -> None:
    stencil = DateStencil.parse([-1, d(1), [-1, 0], [d(1), 0], [-1, d(2)], [d(1), d(2)]])
    assert stencil.date_ranges(d(2)) == [(d(1), d(2))] * 6


def test_offsets_count_from_the_reference_date() -> None:
    assert DateStencil.parse([-2]).date_ranges(d(1)) == [(d(30, 12, 2015), d(31, 12, 2015))]
    assert DateStencil.parse([d(2)]).date_ranges(d(1)) == [(d(2), d(3))]
    assert DateStencil.parse([1]).date_ranges(d(1)) == [(d(2), d(3))]
    assert DateStencil().date_ranges(d(5)) == [(d(5), d(6))]  # the default: the reference date


@pytest.mark.parametrize("reference", [d(1), d(2)])
def test_a_mixed_pair_is_checked_per_reference_date(reference) -> None:
    stencil = DateStencil.parse([[0, d(2)]])  # fine when parsed: valid only before 2016-01-02
    with pytest.raises(InvalidInterval, match="for reference date"):
        DateStencil.parse([[0, d(1)]]).date_ranges(reference)
    if reference == d(1):
        assert stencil.date_ranges(reference) == [(d(1), d(2))]
    else:
        with pytest.raises(InvalidInterval, match="empty"):
            stencil.date_ranges(reference)


def test_set_of_dates() -> None:
    stencil = DateStencil.parse([[d(1), -3], -1, 0])
    assert stencil.dates(d(7)) == {d(1), d(2), d(3), d(6), d(7)}


@pytest.mark.parametrize(
    ("reference", "available"),
    [
        (d(5), False),  # [01-02, 01-02) is empty for this date: not available
        (d(6), True),  # [01-02, 01-03) and [01-03, 01-06): 2..5, all available
        (d(7), False),  # needs 01-06
    ],
)
def test_dates_are_available(reference, available) -> None:
    stencil = DateStencil.parse([[d(2), -3], [-3, 0]])
    assert stencil.available(reference, [d(i) for i in range(1, 6)]) is available
