"""Canonical locations, so that one folder written several ways compares equal.

``N:\\x\\y``, ``N:/x/y`` and ``/mnt/N/x/y`` are one place when the profile says share N's
root is /mnt/N with alias ``N:/``; case and trailing separators do not matter (lab
shares are SMB, case-insensitive).
"""

from __future__ import annotations

from mass_ingest.profile import Share


def _norm(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").lower()


def canonical_location(share: Share, rel_path: str) -> str:
    """The canonical spelling of ``rel_path`` under ``share``."""
    root = _norm(share.root)
    rel = _norm(rel_path).lstrip("/")
    return f"{root}/{rel}" if rel else root


def normalise_location(path: str, shares: list[Share]) -> str:
    """Rewrite any alias spelling to the share root, then canonicalise."""
    norm = _norm(path)
    for share in shares:
        for prefix in [share.root, *share.aliases]:
            p = _norm(prefix)
            if norm == p or norm.startswith(p + "/"):
                return canonical_location(share, norm[len(p):])
    return norm
