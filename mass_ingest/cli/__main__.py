"""``python -m mass_ingest.cli``: the same as the ``mass-ingest`` command."""

from mass_ingest.cli import main

if __name__ == "__main__":  # importing this module (a tool that inspects it) runs nothing
    main()
