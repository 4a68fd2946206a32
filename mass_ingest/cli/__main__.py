"""``python -m mass_ingest.cli``: the same as the ``mass-ingest`` command."""

from mass_ingest.cli import main

main()
