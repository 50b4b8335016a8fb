"""The base of the protocol's enumerations: string values read from the wire."""

from __future__ import annotations

import enum
from typing import Self


class WireEnum(enum.StrEnum):
    """A `StrEnum` whose values arrive as JSON: `parse` gives the member a value names, or None."""

    @classmethod
    def parse(cls, value: object) -> Self | None:
        """The member named `value`, or None if `value` names none (or is not a string)."""
        if not isinstance(value, str):
            return None
        try:
            return cls(value)
        except ValueError:
            return None
