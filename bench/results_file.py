"""bench/RESULTS.md, where every benchmark script writes its results: each owns the text between two markers."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(begin: str, end: str, text: str, heading: str | None = None) -> None:
    """Replace the text between the `begin` and `end` markers with `text`; where the markers are not there yet,
    append them (after `heading`, if given) at the end of the file."""
    current = RESULTS.read_text() if RESULTS.exists() else ""
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1]
        RESULTS.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
    elif heading is not None:
        RESULTS.write_text(current.rstrip("\n") + f"\n\n{heading}\n\n{begin}\n{text}\n{end}\n")
    else:
        RESULTS.write_text(current + f"\n{begin}\n{text}\n{end}\n")
