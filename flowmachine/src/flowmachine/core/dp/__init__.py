"""Differentially private releases of count-type aggregates (FLOWMACHINE_RELEASE_MODE=differential_privacy):
contribution bounding and keys in SQL (`queries`, `keys`), OpenDP's noise (`mechanism`), and releases kept for
good (`releases`)."""
