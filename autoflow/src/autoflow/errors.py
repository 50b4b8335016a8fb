"""What can go wrong in AutoFlow, as typed exceptions (each message says what and where)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A mistake in workflows.yml or in AutoFlow's environment; the message names the bad key."""


class WorkflowFailed(RuntimeError):
    """One run of a workflow (one set of parameters) failed; recorded as `failed` in workflow_runs."""


class NotebookFailed(WorkflowFailed):
    """A notebook raised while papermill executed it: the message names the notebook, the cell and the error."""


class RenderFailed(WorkflowFailed):
    """An executed notebook could not be turned into a PDF (nbconvert or asciidoctor-pdf failed)."""


class DatesUnavailable(RuntimeError):
    """The sensor could not get the available dates from FlowAPI (unreachable, token refused or expired):
    nothing ran this time; the next look tries again."""
