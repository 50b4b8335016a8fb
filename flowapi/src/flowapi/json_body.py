"""Reading a JSON request body within limits: its size (FLOWAPI_MAX_BODY_SIZE, enforced by Quart before
the body is read: 413) and its nesting (FLOWAPI_MAX_JSON_DEPTH: too deep is a 400, never a RecursionError
and a 500 in the parser, in the scope walk or in FlowMachine's validation).

    value = parse_json(raw, max_depth=100)   # TooDeep / NotJSON (both ValueError) when it cannot be used
"""

from __future__ import annotations

import json
from typing import Any


class NotJSON(ValueError):
    """The body is not JSON text (or not UTF-8)."""


class TooDeep(ValueError):
    """The body nests arrays and objects more than `max_depth` levels deep."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def nesting_depth(value: Any, *, stop_above: int | None = None) -> int:
    """Levels of arrays and objects in `value` (a scalar is 0, `{}` 1, `{"a": []}` 2); walked without
    recursion, and given up as soon as it passes `stop_above`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if stop_above is not None and deepest > stop_above:
            break
        stack.extend((child, depth) for child in children)
    return deepest


def parse_json(raw: bytes, *, max_depth: int) -> Any:
    """The JSON value in `raw`; NotJSON, or TooDeep when nested deeper than `max_depth`."""
    try:
        value = json.loads(raw)
    except RecursionError:  # deeper than the interpreter's stack allows: far past any limit
        raise TooDeep(max_depth) from None
    except (UnicodeDecodeError, ValueError):
        raise NotJSON("not JSON") from None
    if nesting_depth(value, stop_above=max_depth) > max_depth:
        raise TooDeep(max_depth)
    return value
