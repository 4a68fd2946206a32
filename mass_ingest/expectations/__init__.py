"""Data quality: is each candidate complete, and does it pass a Great Expectations suite.

The stage (``tasks/quality.py``) runs, per modality present: derive the values the checks need
(:mod:`.values`), validate them with that modality's suite in GX (:mod:`.suites`, :mod:`.gx_run`),
and turn GX's per-row results into failures, readable reasons (:mod:`.reasons`) and a status
(:mod:`.verdicts`). What the checks compare against is a :class:`.context.QualityContext`.

A candidate whose recording may still be arriving is *pending*, not failed: a probe's
``.ap.bin`` is shorter than its ``.meta`` announces, or it changed within the settle time
(a copy in progress; Windows copy tools allocate the whole file first and set the original
time only at the end). It is looked at again on the next scan.
"""
