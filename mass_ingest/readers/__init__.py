"""Vendor file parsers: pure functions that read one file and return a model plus findings."""
