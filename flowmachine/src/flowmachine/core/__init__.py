"""The query model, connections, cache and state machine."""
