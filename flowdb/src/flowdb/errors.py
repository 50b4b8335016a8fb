"""The one exception type the CLI turns into a one-line error and a non-zero exit, and how a database
error reads in one."""


class FlowDBError(Exception):
    """A problem the user can act on; its message is shown as it is."""


def first_line(exc: Exception) -> str:
    """The first line of `exc`'s message (its type's name if it has none), for a one-line FlowDBError."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
