"""What one insertion chunk did: shared by the insertion stage, which returns it, and the outcome, which sums it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mass_ingest.findings import Finding


class Quarantined(BaseModel):
    """An approved session insertion left out, with why: ``findings`` (INSERT.*), and ``reasons``, each
    finding as 'CODE: message', as the Quarantine table stores them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_id: str
    share: str
    rel_path: str
    session_id: str
    reasons: list[str]
    # Empty in an outcome cached before insertion made findings: its reasons still say the code.
    findings: list[Finding] = Field(default_factory=list)


class ChunkOutcome(BaseModel):
    """What one chunk did: sessions it inserted (in this execution, so a run reports its own work),
    and the sessions it left out, each with the value and the limit (or the database's refusal)."""

    model_config = ConfigDict(extra="forbid")

    inserted: int = 0
    quarantined: list[Quarantined] = Field(default_factory=list)
    flow_run_id: str = ""
