"""pytest fixtures (being written, issue 4)."""
