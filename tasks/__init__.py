"""Pipeline stages, one module each: a plain core function and a thin Prefect task."""
