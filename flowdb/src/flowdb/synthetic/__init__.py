"""Synthetic CDR data: an offline country, infrastructure, and the python and SQL event generators."""
