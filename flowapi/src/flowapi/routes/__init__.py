"""The API routes, one blueprint per area."""
