"""Recording systems: each module says what it recognises in a session folder's files."""
