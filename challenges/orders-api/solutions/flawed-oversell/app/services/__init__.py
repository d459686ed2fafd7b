"""Units of work: what the API does, independent of HTTP."""
