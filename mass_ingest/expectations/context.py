"""What the quality checks compare candidates against: subjects, implants, time bounds and probe settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ProbeTypeBounds(BaseModel):
    """Plausible settings of one probe type (both optional: the general bounds apply where not given)."""

    model_config = ConfigDict(extra="forbid")

    saved_chans: tuple[int, int] | None = Field(None, description="Plausible nSavedChans (inclusive).")
    sample_rate_hz: tuple[float, float] | None = Field(None, description="Plausible imSampRate in Hz (inclusive).")


class QualityContext(BaseModel):
    """What the checks compare candidates against, taken from the database, the profile and the clock."""

    model_config = ConfigDict(extra="forbid")

    implanted_probes: dict[str, int] = Field(
        description="Subject -> number of implanted probes. A subject not listed is unknown.")
    implanted_serials: dict[str, list[str]] = Field(
        description="Subject -> serials of its implanted probes. Probe serials are judged only for known "
        "subjects listed here with at least one serial.")
    now: datetime = Field(description="Naive local 'now' in the lab's time zone.")
    now_epoch: float = Field(
        description="The same moment in seconds since the epoch, compared with the .ap.bin modification times.")
    not_before: datetime = Field(description="Sessions said to start before this fail.")
    settle_s: float = Field(
        900, ge=0, description="A .ap.bin modified less than this many seconds before now_epoch may still be "
        "copied or written: its session is pending, and is checked again on the next scan.")
    saved_chans: tuple[int, int] = Field(
        (1, 4096), description="Plausible nSavedChans of a probe, lowest and highest (inclusive).")
    sample_rate_hz: tuple[float, float] = Field(
        (1000, 100_000), description="Plausible imSampRate of a probe in Hz, lowest and highest (inclusive).")

    probe_types: dict[str, "ProbeTypeBounds"] = Field(
        default_factory=dict, description="Probe type label (as discovery names it, e.g. 'neuropixels 1.0 - 3B') "
        "-> its own plausible nSavedChans and imSampRate, where they differ from the bounds above.")
    max_duration_s: float = Field(
        2 * 86400, gt=0, description="Longest plausible recording (fileTimeSecs), in seconds.")
    stalled_after_s: float = Field(
        86400, gt=0, description="A .ap.bin shorter than its .meta announces and unchanged for this long has stopped "
        "growing: its session is quarantined instead of pending for ever.")

    @field_validator("now", "not_before")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        # session_start is naive local time; an aware bound could not be compared with it.
        if value.tzinfo is not None:
            raise ValueError("must be a naive local time in the lab's time zone, without a UTC offset")
        return value

    @field_validator("saved_chans", "sample_rate_hz")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if bounds[0] > bounds[1]:
            raise ValueError(f"must be (lowest, highest); {bounds[0]} is above {bounds[1]}")
        return bounds


QualityContext.model_rebuild()
