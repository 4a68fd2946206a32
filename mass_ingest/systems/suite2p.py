"""suite2p outputs: every ``suite2p/`` folder below the session, one Output each.

The lab runs suite2p in ``combined*/`` (all basenames of the folder together), in
``split_<basename>*/`` (one basename), in Femtonics ``MUnit_<n>/`` folders, or directly in the
session. The folder holding ``suite2p/`` is the Output's path; which recording it belongs to is
read from that folder's name. When a combined run exists, it is the one to use: the split runs
are still listed (they are real work a person may prefer) but with kind ``suite2p_split``, so
nothing downstream takes two sets of ROIs for the same cells.
"""

from __future__ import annotations

import re

import numpy as np

from mass_ingest.candidates import Output
from mass_ingest.systems import femtonics
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles

_PLANE = re.compile(r"^plane(\d+)$")
PLANE_FILES = ("F.npy", "iscell.npy", "ops.npy", "stat.npy")  # what reading one plane's ROIs needs
_KEY_FILES = {"ops1.npy"} | {f"{part}/{name}" for part in ("plane", "combined") for name in PLANE_FILES}


def owns_folder(name: str) -> bool:
    """True for suite2p's own folders: the tifs and CSVs in them are products, not recordings."""
    return name == "suite2p" or name.startswith(("combined", "split_"))


def _recording_of(host: str) -> str:
    name = host.rpartition("/")[2]
    if name.startswith("split_"):
        return name[len("split_"):].split("_", 1)[0]  # split_<basename>[_anything]; basenames hold no '_'
    return name if femtonics.owns_folder(name) else ""


class Suite2p(RecordingSystem):
    """``<host>/suite2p/`` with ``ops1.npy``, ``plane<k>/`` (ops, F, iscell, stat) and ``combined/``."""

    name = "suite2p"
    display_name = "suite2p"
    modality = "imaging"
    associated_suffixes = (".npy",)

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        found: dict[str, tuple[set[int], set[str]]] = {}  # host -> (planes present, key files present)
        first: dict[str, str] = {}  # host -> its first file, so hosts are read in the order a walk meets them
        for folder, names in session.files.folder_items():
            parts = folder.split("/")
            if "suite2p" not in parts:
                continue
            i = parts.index("suite2p")
            host, inner_folder = "/".join(parts[:i]), parts[i + 1:]
            first[host] = min(first.get(host, f"{folder}/{names[0]}"), f"{folder}/{names[0]}")
            planes, keys = found.setdefault(host, (set(), set()))
            plane = _PLANE.match(inner_folder[0]) if inner_folder else None
            if plane:
                planes.add(int(plane[1]))
            for name in names:
                inner = [*inner_folder, name]
                # Only key files are kept (not data.bin, reg_tif/...), so an Output stays a few lines.
                generic = "/".join(["plane" if plane else inner[0], *inner[1:]])
                if generic in _KEY_FILES:
                    keys.add("/".join(inner))
        found = {host: found[host] for host in sorted(found, key=first.__getitem__)}
        has_combined = any(host.rpartition("/")[2].startswith("combined") for host in found)
        for host, (planes, keys) in found.items():
            complete = cls._check(session, host, planes, keys, result)
            recording = _recording_of(host)
            split = has_combined and host.rpartition("/")[2].startswith("split_")
            result.outputs.append(Output(kind="suite2p_split" if split else "suite2p", path=host,
                                         recording=recording, files=sorted(f"suite2p/{k}" for k in keys),
                                         complete=complete))
        result.outputs.sort(key=lambda o: (o.kind != "suite2p", o.path))  # the ones to use first
        _mark_preferred(result.outputs)
        return result

    @staticmethod
    def _empty_planes(session: SessionFiles, where: str, planes: set[int], keys: set[str],
                      result: Recognised) -> bool:
        """A finding per plane whose F.npy holds no ROI or cannot be read (only its header is read)."""
        empty = False
        for k in sorted(planes):
            if f"plane{k}/F.npy" not in keys:
                continue
            rel = f"{where}/plane{k}/F.npy"
            rois, problem = _rois(session.files.path(rel))
            if problem or rois == 0:
                empty = True
                result.findings.append(session.finding(
                    "SUITE2P.EMPTY_PLANE", f"{where}/plane{k}",
                    f"plane{k}'s F.npy {problem or 'holds no ROI'}; rerun suite2p on this plane (or confirm that "
                    "it has no cells) before using this output"))
        return empty

    @staticmethod
    def _check(session: SessionFiles, host: str, planes: set[int], keys: set[str], result: Recognised) -> bool:
        """Whether every plane has the four files it needs; a finding per plane that does not."""
        where = f"{host}/suite2p" if host else "suite2p"
        if not planes:
            result.findings.append(session.finding(
                "SUITE2P.INCOMPLETE", where, "no plane<k>/ folder; rerun suite2p or copy its output"))
            return False
        complete = True
        for k in sorted(planes):
            missing = [name for name in PLANE_FILES if f"plane{k}/{name}" not in keys]
            if missing:
                complete = False
                result.findings.append(session.finding(
                    "SUITE2P.INCOMPLETE", f"{where}/plane{k}",
                    f"plane{k} lacks {', '.join(missing)}; rerun suite2p on this plane or copy the files"))
        if Suite2p._empty_planes(session, where, planes, keys, result):
            complete = False
        return complete


def _rois(path: str) -> tuple[int | None, str | None]:
    """(number of ROIs in an F.npy, or why it cannot be told) from the .npy header alone."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(handle)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except (ValueError, SyntaxError) as exc:  # empty, cut short, or not an .npy
        return None, f"is not a readable .npy ({str(exc)[:80] or 'empty'})"
    return (shape[0] if shape else 0), None


def _mark_preferred(outputs: list[Output]) -> None:
    """Mark, per recording, the one suite2p output to use: a run over combined planes (``suite2p/combined/``
    or a ``combined*`` host) before one without, a complete one before an incomplete one, then the first.
    Split runs where a combined host exists (``suite2p_split``) are never preferred."""
    best: dict[str, Output] = {}
    for output in outputs:
        if output.kind != "suite2p":
            continue
        current = best.get(output.recording)
        if current is None or _rank(output) > _rank(current):
            best[output.recording] = output
    for output in best.values():
        output.preferred = True


def _rank(output: Output) -> tuple[bool, bool]:
    return (any(f.startswith("suite2p/combined/") for f in output.files)
            or output.path.rpartition("/")[2].startswith("combined"), output.complete)
