"""The expectations by name, which apply to which modality, and the Great Expectations suite built from them.

Each expectation checks one column of :func:`mass_ingest.expectations.values.validation_frame`;
its name (from :data:`EXPECTATIONS`) travels in the GX expectation's ``meta`` so that results
map back to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mass_ingest.errors import QualitySuiteError

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

# The suite, in the order failures are listed. Reports may list these names.
EXPECTATIONS: tuple[str, ...] = (
    "subject_known",
    "session_start_parsed",
    "session_start_not_in_future",
    "session_start_not_before",
    "every_ap_bin_has_meta",
    "ap_bin_size_matches_meta",
    "no_zero_byte_data",
    "channels_and_rate_plausible",
    "probe_count_matches_implants",
    "probe_serials_implanted",
    "no_discovery_errors",
    "session_key_unique",
)
# What a session without probes is judged on: everything but the probe checks, and its subject need not be
# known: the lab's rule asks ephys subjects (and their implants) to exist before ingest, not imaging ones,
# which are created on insertion once approved. A profile that wants them known lists subject_known.
_SESSION_EXPECTATIONS: tuple[str, ...] = (
    "session_start_parsed",
    "session_start_not_in_future",
    "session_start_not_before",
    "no_discovery_errors",
    "session_key_unique",
)
_PROBE_FREE_MODALITIES = ("imaging", "tracking", "behaviour")

SUITE_NAME = "mass-ingest-quality"
# Key in each GX expectation's `meta` holding its name from EXPECTATIONS.
META_KEY = "mass_ingest_expectation"


def quality_code(name: str) -> str:
    """The findings CATALOGUE code of an expectation's failure: 'subject_known' -> 'QUALITY.SUBJECT_KNOWN'."""
    return f"QUALITY.{name.upper()}"


def expectations_for(modality: str) -> tuple[str, ...]:
    """The default suite of a modality: every expectation for ephys (and an unknown modality),
    the probe-free ones but subject_known for imaging, tracking and behaviour."""
    return _SESSION_EXPECTATIONS if modality in _PROBE_FREE_MODALITIES else EXPECTATIONS


def selected_expectations(modality: str, expectations: Mapping[str, Sequence[str]] | None) -> tuple[str, ...]:
    """The expectations a modality's rows are judged on, in :data:`EXPECTATIONS` order."""
    if expectations is None or modality not in expectations:
        return expectations_for(modality)
    chosen = set(expectations[modality])
    unknown = sorted(chosen - set(EXPECTATIONS))
    if unknown:
        raise QualitySuiteError(f"{modality}: unknown expectation(s) {unknown}; choose from {list(EXPECTATIONS)}")
    return tuple(name for name in EXPECTATIONS if name in chosen)



def build_suite(expectations: tuple[str, ...] = EXPECTATIONS, name: str = SUITE_NAME) -> ExpectationSuite:
    """The quality suite (or the named part of it), with subjects and time bounds as GX suite parameters.

    Its parameters are ``known_subjects``, ``now`` and ``not_before`` (see :func:`run_suite`).
    GX skips nulls in value checks, so a missing start fails only ``session_start_parsed``,
    and probe counts and serials are judged only where the subject's implants are known.
    Each description starts with the expectation's name, so Data Docs show it.
    """
    import great_expectations as gx
    from great_expectations import expectations as gxe

    def named(cls: type, name: str, description: str, **kwargs: Any) -> Any:
        return cls(meta={META_KEY: name}, description=f"{name}: {description}", **kwargs)

    def none_of(column: str, name: str, description: str) -> Any:
        return named(gxe.ExpectColumnValuesToBeInSet, name, description, column=column, value_set=[0])

    every = [
        named(gxe.ExpectColumnValuesToBeInSet, "subject_known",
              "the subject is in the database with its implanted probes.",
              column="subject", value_set={"$PARAMETER": "known_subjects"}),
        named(gxe.ExpectColumnValuesToNotBeNull, "session_start_parsed",
              "the session start was read from the folder name.", column="session_start"),
        named(gxe.ExpectColumnValuesToBeBetween, "session_start_not_in_future",
              "the session did not start after the time of the check.",
              column="session_start", max_value={"$PARAMETER": "now"}),
        named(gxe.ExpectColumnValuesToBeBetween, "session_start_not_before",
              "the session did not start before the earliest date the profile allows.",
              column="session_start", min_value={"$PARAMETER": "not_before"}),
        none_of("n_bins_without_meta", "every_ap_bin_has_meta", "every .ap.bin has its .ap.meta beside it."),
        none_of("n_bins_wrong_size", "ap_bin_size_matches_meta",
                "every .ap.meta has its .ap.bin, no larger than the meta's fileSizeBytes."),
        none_of("n_zero_byte_bins", "no_zero_byte_data", "no .ap.bin is empty."),
        none_of("n_implausible_probes", "channels_and_rate_plausible",
                "every probe's nSavedChans and imSampRate are within the plausible bounds."),
        named(gxe.ExpectColumnPairValuesToBeEqual, "probe_count_matches_implants",
              "as many probes were recorded as the subject has implanted.",
              column_A="n_probes", column_B="implanted_probes", ignore_row_if="either_value_is_missing"),
        none_of("n_serials_not_implanted", "probe_serials_implanted",
                "every probe serial is one implanted in the subject."),
        none_of("n_discovery_errors", "no_discovery_errors",
                "discovery read every file of the session (no unreadable folder or .meta)."),
        named(gxe.ExpectColumnValuesToBeInSet, "session_key_unique",
              "no other new candidate claims the same subject and start time.", column="n_same_key", value_set=[1]),
    ]
    names = tuple(e.meta[META_KEY] for e in every)
    if names != EXPECTATIONS:
        raise QualitySuiteError(f"the suite's expectations {names} are not EXPECTATIONS {EXPECTATIONS}")
    unknown = sorted(set(expectations) - set(EXPECTATIONS))
    if unknown:
        raise QualitySuiteError(f"unknown expectation(s) {unknown}; choose from {list(EXPECTATIONS)}")
    return gx.ExpectationSuite(name=name, expectations=[e for e in every if e.meta[META_KEY] in expectations])
