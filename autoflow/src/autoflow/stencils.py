"""Date stencils: which days of data a workflow needs around each reference date.

A stencil is a list whose elements are an absolute date (`2016-01-01`), a whole number of days relative to the
reference date (`-1`), or a `[start, end]` pair of either. Intervals are half-open, as in FlowKit since its
PR #1773 and as flowclient's date ranges: a single element `d` is the interval `[d, d + 1 day)`, and a pair
`[start, end]` covers the days from `start` up to, not including, `end`. So a pair must end after it starts:
two offsets or two dates are checked when the file is read; a pair mixing a date and an offset can only be
checked for a given reference date, and one that is reversed or empty for that date makes the date
"not available" (the workflow does not run for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Bound = int | dt.date
DAY = dt.timedelta(days=1)


class InvalidInterval(ValueError):
    """A stencil interval that is reversed or empty (for a given reference date, when it mixes kinds)."""


def _bound(value: object, where: str) -> Bound:
    """A date or a day offset from what YAML gave (an ISO date string is accepted too, as FlowKit's does)."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not a date or a whole number of days")
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        raise ValueError(f"{where}: {value} has a time of day; give a date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD) or a whole number of days")


def _resolve(bound: Bound, reference: dt.date) -> dt.date:
    return bound if isinstance(bound, dt.date) else reference + dt.timedelta(days=bound)


@dataclass(frozen=True)
class DateStencil:
    """Half-open intervals `(start, end)` of dates and/or day offsets."""

    intervals: tuple[tuple[Bound, Bound], ...] = ((0, 1),)

    @classmethod
    def parse(cls, raw: object, where: str = "date_stencil") -> DateStencil:
        """The stencil `raw` (a list from workflows.yml); ValueError naming `where[i]` for a mistake."""
        if not isinstance(raw, list | tuple):
            raise ValueError(f"{where}: must be a list of dates, day offsets or [start, end] pairs")
        intervals: list[tuple[Bound, Bound]] = []
        for i, element in enumerate(raw):
            here = f"{where}[{i}]"
            if isinstance(element, list | tuple):
                if len(element) != 2:
                    raise ValueError(
                        f"{here}: an interval is a [start, end] pair, got {len(element)} elements"
                    )
                start, end = _bound(element[0], f"{here}[0]"), _bound(element[1], f"{here}[1]")
                not_ordered = (
                    isinstance(start, int) and isinstance(end, int) and not start < end
                ) or (isinstance(start, dt.date) and isinstance(end, dt.date) and not start < end)
                if not_ordered:
                    raise ValueError(
                        f"{here}: [{start}, {end}] is "
                        f"{'empty' if start == end else 'reversed'}: the end is excluded, so it must "
                        "come after the start"
                    )
                intervals.append((start, end))
            else:
                bound = _bound(element, here)
                intervals.append((bound, bound + DAY if isinstance(bound, dt.date) else bound + 1))
        return cls(tuple(intervals))

    def date_ranges(self, reference: dt.date) -> list[tuple[dt.date, dt.date]]:
        """The intervals as `(start, end_exclusive)` dates for `reference`; InvalidInterval for a mixed pair
        that is reversed or empty for this date."""
        pairs = []
        for start, end in self.intervals:
            first, after = _resolve(start, reference), _resolve(end, reference)
            if not first < after:
                raise InvalidInterval(
                    f"date stencil interval [{start}, {end}] is "
                    f"{'empty' if first == after else 'reversed'} for reference date {reference} "
                    f"([{first}, {after}))"
                )
            pairs.append((first, after))
        return pairs

    def dates(self, reference: dt.date) -> set[dt.date]:
        """Every day the stencil covers for `reference`."""
        days: set[dt.date] = set()
        for first, after in self.date_ranges(reference):
            days.update(first + i * DAY for i in range((after - first).days))
        return days

    def available(self, reference: dt.date, available_dates: Iterable[dt.date]) -> bool:
        """True when every day the stencil needs for `reference` is available (False for a stencil invalid
        for this date)."""
        try:
            needed = self.dates(reference)
        except InvalidInterval:
            return False
        return needed <= set(available_dates)

    def raw(self) -> list[object]:
        """The stencil as pairs, dates as ISO text (for display)."""
        return [[_text(s), _text(e)] for s, e in self.intervals]


def _text(bound: Bound) -> object:
    return bound.isoformat() if isinstance(bound, dt.date) else bound


def ranges_as_text(pairs: Sequence[tuple[dt.date, dt.date]]) -> list[list[str]]:
    return [[a.isoformat(), b.isoformat()] for a, b in pairs]
