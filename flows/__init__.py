"""Prefect flows: they compose the stages in tasks/ and nothing else."""
