"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class FlowDBError(Exception):
    """A problem the user can act on; its message is shown as it is."""
