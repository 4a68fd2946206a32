"""mass-ingest: bring a whole recording campaign from network shares into a DataJoint pipeline."""

__version__ = "0.1.0"
