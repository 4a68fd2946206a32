"""The profile: which shares hold data, how their folders are laid out, what to leave out.

A profile is YAML in ``profiles/``. It is validated by :class:`Profile` (``extra="forbid"``,
so a misspelt key is an error that names it) before any work starts. Secrets never live
here: database credentials come from the environment (see ``mass_ingest.db.connection``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mass_ingest.errors import ProfileError
from mass_ingest.expectations.context import ProbeTypeBounds
from mass_ingest.layouts import LayoutTemplate
from mass_ingest.lab_files import load_model_file

Modality = Literal["ephys", "imaging", "tracking", "behaviour"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Layout(_Strict):
    """One folder layout on a share: a template that ends at the session folder."""

    template: str = Field(
        description="Path of a session folder relative to the share root, with {subject} and "
        "{session_time:<strftime>} or {session_date:<strftime>} fields. A field never spans a '/'.",
        examples=["recordings/{subject}/{session_time:%Y-%m-%d_%H-%M-%S}"],
    )
    modality: Modality = Field("ephys", description="What kind of recording sessions of this layout hold.")
    systems: list[str] | None = Field(
        None, description="Recording systems to recognise (see mass_ingest.systems.SYSTEMS); "
        "default: every system of the modality, plus task hints.", examples=[["spikeglx", "kilosort", "tracking"]])
    combined: bool = Field(True, description="Imaging: the recordings of one folder form one session (true), "
                           "or each recording is a session of its own (false).")

    @field_validator("systems")
    @classmethod
    def _systems_known(cls, systems: list[str] | None) -> list[str] | None:
        from mass_ingest.systems import SYSTEMS

        unknown = [s for s in systems or [] if s not in SYSTEMS]
        if unknown:
            raise ValueError(f"unknown recording system(s) {unknown}; choose from {sorted(SYSTEMS)}")
        return systems

    @field_validator("template")
    @classmethod
    def _template_compiles(cls, template: str) -> str:
        LayoutTemplate.compile(template)  # raises ValueError with the reason
        return template


class Share(_Strict):
    """A network share (or a folder on one) that holds recordings."""

    name: str = Field(description="Short name used in reports and stored with each session, e.g. 'N'.",
                      pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    root: str = Field(description="Where this worker sees the share, as an absolute POSIX path, e.g. '/mnt/N'.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Other spellings of the same root seen in lab records, e.g. 'N:/' or '\\\\\\\\fileserver\\\\N'. "
        "Locations written with an alias are the same place as under root.",
    )
    layouts: list[Layout] = Field(min_length=1, description="Session folder layouts on this share, tried in order.")
    access_timeout_s: float = Field(10.0, gt=0, description="Listing the root slower than this is reported as a slow share.")
    chunks: int = Field(1, ge=1, le=256, description="Discover this share in this many parallel tasks, each "
                        "taking every n-th subject folder (for very large shares).")
    max_parallel: int = Field(16, ge=1, le=128, description="Folder listings and file reads discovery keeps in "
                              "flight at once on this share (per chunk task). A network share answers each in "
                              "a round trip, so more in flight is faster; lower it for a file server that must "
                              "not be loaded, 1 walks one folder at a time.")
    case_sensitive: bool | None = Field(
        None, description="Whether the share's file system tells names apart by case ('b26A' and 'b26a' two "
        "folders). Default from its spelling: a share with a Windows alias (a drive letter such as 'N:/' or a UNC "
        "path '//server/N') is an SMB share and ignores case; a share with POSIX spellings only does not. Where "
        "case is ignored, locations are compared lower-cased, and two folders whose names differ only in case "
        "are both quarantined (DISCOVER.CASE_COLLISION), each naming the other.")

    @property
    def ignores_case(self) -> bool:
        """Whether names on this share are compared without case (see ``case_sensitive``)."""
        if self.case_sensitive is not None:
            return not self.case_sensitive
        return any(re.match(r"^([A-Za-z]:|\\\\|//)", alias) for alias in self.aliases)

    @field_validator("root")
    @classmethod
    def _root_is_absolute_posix(cls, root: str) -> str:
        if not root.startswith("/"):
            raise ValueError(f"'{root}' is not an absolute POSIX path; write where this worker mounts "
                             "the share (e.g. /mnt/N) and put Windows spellings under aliases")
        return str(PurePosixPath(root))


class MatchRule(_Strict):
    """Selects sessions: any of the listed subjects, session ids or path globs, within the time range if given.

    With no subjects, sessions or paths, the time range alone decides.
    """

    subjects: list[str] = Field(default_factory=list, description="Subject ids (strings; quote ids like '102_1').")
    sessions: list[str] = Field(default_factory=list,
                                description="Session ids '<subject>/<YYYY-MM-DD_HH-MM-SS>' or globs of them.")
    paths: list[str] = Field(default_factory=list, description="Globs on the path relative to the share root.")
    start_after: datetime | None = Field(None, description="Only sessions starting at or after this local time.")
    start_before: datetime | None = Field(None, description="Only sessions starting before this local time.")

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects_are_strings(cls, subjects: object) -> object:
        return _require_strings(subjects, "subject ids")

    @field_validator("start_after", "start_before")
    @classmethod
    def _window_is_local(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _naive_local(value)

    def match(self, subject: str, session_id: str, rel_path: str, start: datetime | None) -> str | None:
        """Which part of the rule selects the session (e.g. "subjects: '00000'"), or None."""
        ranged = self.start_after is not None or self.start_before is not None
        if ranged:
            if start is None or (self.start_after and start < self.start_after) or (
                    self.start_before and start >= self.start_before):
                return None
        window = f" between {self.start_after or '...'} and {self.start_before or '...'}" if ranged else ""
        if subject in self.subjects:
            return f"subjects: '{subject}'{window}"
        for pattern in self.sessions:
            if fnmatch.fnmatchcase(session_id, pattern):
                return f"sessions: '{pattern}'{window}"
        for pattern in self.paths:
            if fnmatch.fnmatchcase(rel_path, pattern):
                return f"paths: '{pattern}'{window}"
        if ranged and not (self.subjects or self.sessions or self.paths):
            return f"start{window}"
        return None


class Project(MatchRule):
    """A project (metagroup) and the sessions that belong to it."""

    name: str = Field(description="Project name as stored in the pipeline.", pattern=r"^[A-Za-z0-9_. -]{1,64}$")
    description: str = Field("", max_length=255, description="One line shown with the project; stored with it "
                             "in the pipeline (the Project table holds up to 255 characters).")


class Approval(_Strict):
    """How long an ingest waits for a person, and what may pass without one."""

    timeout_s: int = Field(3600, gt=0, description="Seconds the run waits at the approval pause; then it inserts nothing.")
    poll_s: int = Field(10, gt=0, description="How often the paused run looks for a decision, in seconds.")
    auto_approve_clean: bool = Field(
        False, description="Scheduled re-scans (flows/rescan.py) insert the sessions that pass every expectation "
        "without waiting for a person; quarantined and pending ones are still held back and reported. A manual "
        "ingest always asks.")


# The quality suite's expectations (mass_ingest/expectations/suites.py EXPECTATIONS; a test keeps the two equal).
ExpectationName = Literal[
    "subject_known", "session_start_parsed", "session_start_not_in_future", "session_start_not_before",
    "every_ap_bin_has_meta", "ap_bin_size_matches_meta", "no_zero_byte_data", "channels_and_rate_plausible",
    "probe_count_matches_implants", "probe_serials_implanted", "no_discovery_errors", "session_key_unique",
    "file_size_plausible", "duration_plausible", "serial_present", "create_time_plausible", "ap_bin_not_stalled",
]


class Quality(_Strict):
    """Thresholds of the quality suite, and which expectations each modality is judged on."""

    settle_s: float = Field(900, ge=0, description="A .ap.bin changed more recently than this is still arriving: "
                            "its session is pending (looked at again next run), not quarantined.")
    saved_chans: tuple[int, int] = Field((1, 4096), description="Plausible nSavedChans (inclusive).")
    sample_rate_hz: tuple[float, float] = Field((1000, 100000), description="Plausible imSampRate in Hz (inclusive).")
    probe_types: dict[str, ProbeTypeBounds] = Field(
        default_factory=dict, description="Per probe type (the label discovery gives, e.g. 'neuropixels 1.0 - 3B'), "
        "its own plausible nSavedChans and imSampRate where they differ from saved_chans / sample_rate_hz.",
        examples=[{"neuropixels 1.0 - 3B": {"saved_chans": [385, 385], "sample_rate_hz": [29000, 31000]}}])
    max_duration_s: float = Field(2 * 86400, gt=0, description="Longest plausible recording (.meta fileTimeSecs), "
                                  "in seconds.")
    stalled_after_s: float = Field(
        86400, gt=0, description="A .ap.bin still shorter than its .meta announces after this many seconds without "
        "a change has stopped growing: its session is quarantined ('stopped growing at N of M bytes') instead of "
        "staying pending for ever.")
    expectations: dict[Modality, list[ExpectationName]] = Field(
        default_factory=dict, description="Expectations each modality is judged on; a modality not listed gets "
        "its default suite (ephys: all; imaging, tracking, behaviour: subject, start time, discovery errors, "
        "unique session key).")


class Dedup(_Strict):
    """What deduplication does with known sessions found again."""

    record_moved_location: bool = Field(
        True, description="A session found moved (same subject, start and probes, another folder): when "
        "approved, record its new place (the old one is kept as its location history); false: only report it.")


class Profile(_Strict):
    """A mass-ingest profile: shares, layouts, exclusions and projects for one campaign."""

    name: str = Field(description="Profile name, stored with every ingest run.", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = Field("", description="What this profile ingests, for the people who read it.")
    timezone: str = Field(description="The lab's time zone; folder times are naive local times in it.",
                          examples=["Europe/Oslo"])
    shares: list[Share] = Field(min_length=1, description="Shares to scan.")
    exclude: MatchRule = Field(default_factory=MatchRule,
                               description="Sessions never to ingest; each excluded folder is listed with this rule.")
    projects: list[Project] = Field(default_factory=list, description="Projects and which sessions belong to them.")
    approval: Approval = Field(default_factory=Approval)
    quality: Quality = Field(default_factory=Quality)
    start_tolerance_s: float = Field(
        900, ge=0, description="A probe's .meta fileCreateTime further than this from the folder's start time "
        "is reported (the folder name may be wrong, or the data belongs to another session).")
    not_before: datetime = Field(datetime(2000, 1, 1),
                                 description="Sessions said to start before this are quality failures (odd dates).")
    dedup: Dedup = Field(default_factory=Dedup)
    probe_association: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per subject, the probe (its name in the pipeline) that recorded each "
        "probe folder, for recordings whose .meta serial names no probe (or several).",
        examples=[{"25843": {"probe_1": "npx_1_18408403232"}}])

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{tz}' is not an IANA time zone name; write one like 'Europe/Oslo'") from None
        return tz

    @field_validator("shares")
    @classmethod
    def _share_names_unique(cls, shares: list[Share]) -> list[Share]:
        names = [s.name for s in shares]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"share names must be unique; {dupes} appear more than once (rename one)")
        return shares

    @field_validator("not_before")
    @classmethod
    def _not_before_is_local(cls, value: datetime) -> datetime:
        return _naive_local(value)

    @field_validator("probe_association")
    @classmethod
    def _one_folder_per_probe(cls, mapping: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for subject, folders in mapping.items():
            for folder, probe in folders.items():
                if not folder.strip() or not probe.strip():
                    raise ValueError(f"subject '{subject}': probe folder '{folder}' -> probe '{probe}' has an "
                                     "empty side; write it as `probe_1: <probe name>`")
            probes = list(folders.values())
            twice = sorted({p for p in probes if probes.count(p) > 1})
            if twice:
                raise ValueError(f"subject '{subject}': probe(s) {twice} are mapped to more than one folder; a "
                                 "probe records into one folder of a session, so map each folder to its own probe")
        return mapping

    def share(self, name: str) -> Share:
        for share in self.shares:
            if share.name == name:
                return share
        raise ProfileError(f"profile {self.name}: no share named {name!r}; its shares are "
                           + ", ".join(s.name for s in self.shares))

    def content_hash(self) -> str:
        """Hash of the validated model (not the file text), for cache keys and provenance."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def marked(self, note: str) -> "Profile":
        """A copy whose description carries ``note``: another content hash, so another ingest in the
        ledger (an import, a re-scan) that never resumes, or is resumed by, a plain run of the profile."""
        return self.model_copy(update={"description": f"{self.description} [{note}]".strip()})

    def with_root(self, root: str, share: str | None = None) -> "Profile":
        """A copy with one share's root replaced (the only share when ``share`` is None)."""
        if share is None and len(self.shares) != 1:
            names = [s.name for s in self.shares]
            raise ProfileError(f"profile {self.name} has {len(names)} shares ({', '.join(names)}) and --root "
                               "replaces the root of one of them: add "
                               + " or ".join(f"--share {name}" for name in names))
        target = share or self.shares[0].name
        self.share(target)
        shares = [s.model_copy(update={"root": str(Path(root).resolve())}) if s.name == target else s
                  for s in self.shares]
        return self.model_copy(update={"shares": shares})

    def with_shares(self, names: list[str]) -> "Profile":
        """A copy that scans only the named shares (each must be one of the profile's), in the profile's
        order: which of two copies of a session is the original must not depend on how they were named."""
        for name in names:
            self.share(name)
        return self.model_copy(update={"shares": [s for s in self.shares if s.name in names]})

    def selected(self, shares: list[str] | None = None, root: str | None = None) -> "Profile":
        """What a run works on: only ``shares`` (all when empty), with ``root`` replacing the root of the
        one share left. The deployments' ``shares`` parameter and the command line's --share and --root."""
        profile = self.with_shares(shares) if shares else self
        if root is None:
            return profile
        if shares and len(profile.shares) > 1:
            raise ProfileError(f"profile {self.name}: --root replaces the root of one share, but --share names "
                               f"{len(profile.shares)} ({', '.join(s.name for s in profile.shares)}); give one "
                               "--share with --root")
        return profile.with_root(root)


def _naive_local(value: datetime) -> datetime:
    # Folder times are naive local times; an offset here could never be compared with them.
    if value.tzinfo is not None:
        raise ValueError(f"{value.isoformat()} has a time-zone offset; write the lab's local time without one "
                         "(e.g. 2024-03-01T00:00:00): the profile's timezone applies")
    return value


def _require_strings(values: object, what: str) -> object:
    # YAML turns `no` into False and `102_1` into 1021: refuse instead of storing the wrong id.
    if isinstance(values, list):
        for value in values:
            if not isinstance(value, str):
                raise ValueError(f"{what} must be strings, but {value!r} was read as {type(value).__name__}; "
                                 f"quote it in the YAML (e.g. '{value}')")
    return values


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; raise :class:`ProfileError` naming the file, key and fix."""
    return load_model_file(path, Profile, kind="profile", error=ProfileError,
                           top_keys="keys such as name, timezone and shares",
                           where_they_live=" (profiles live in profiles/*.yaml)")
