"""DeepLabCut pose estimation: result sets in ``dlc_<basename>/``, ``dlc<subject>_<basename>/`` or
``dlc_<subject>_<basename>/`` folders.

DeepLabCut names each result set after the video, the network and the training iteration
(``<video>DLC_resnet50_<project>shuffle1_100000.h5``, with ``..._meta.pickle`` beside it). A folder
may hold several sets (another scorer, a later iteration); each is one Output, in file order,
because each is a separate analysis that a person chooses between and each is complete or not
on its own. The folder's ``.yaml`` (the project config) belongs to every set.
"""

from __future__ import annotations

import re

from mass_ingest.candidates import Output, Recording
from mass_ingest.findings import Finding
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles

# dlc_<basename>, dlc<subject>_<basename> or dlc_<subject>_<basename>: which part is the basename is told
# by the recordings of the session (see attribute), never by where the first '_' is.
_FOLDER = re.compile(r"^dlc(?P<rest>[^_]*_.+)$", re.IGNORECASE)
# DeepLabCut 2.x writes 'DLC_' into every result name, 1.x wrote 'DeepCut'.
_SCORER = re.compile(r"DLC_|DeepCut")
# What follows the result set's name in its other files.
_SET_SUFFIXES = ("_meta.pickle", "_full.pickle", ".pickle", ".h5", ".csv")


def owns_folder(name: str) -> bool:
    """True for a DeepLabCut folder: other systems leave the videos and CSVs in it alone."""
    return bool(_FOLDER.match(name))


def is_result_file(name: str) -> bool:
    """True for a DeepLabCut result file wherever it lies (its CSV is not 2D tracking)."""
    return bool(_SCORER.search(name))


class DeepLabCut(RecordingSystem):
    """One Output per result set (one .h5 and its pickles) in each DeepLabCut folder."""

    name = "dlc"
    display_name = "DeepLabCut"
    modality = "imaging"
    associated_suffixes = (".yaml", ".pickle", ".h5", ".csv")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        folders: list[tuple[str, list[str]]] = []  # (folder rel, its file names), in file order
        for folder, names in session.files.folder_items():
            if folder and owns_folder(folder.rpartition("/")[2]):
                mine = [name for name in names if name.endswith(cls.associated_suffixes)]
                if mine:
                    folders.append((folder, mine))
        folders.sort(key=lambda item: f"{item[0]}/{item[1][0]}")  # by the first file taken, as a walk meets them
        for folder, names in folders:
            cls._result_sets(session, folder, "", names, result)  # its recording: see attribute()
        return result

    @staticmethod
    def _result_sets(session: SessionFiles, folder: str, basename: str, names: list[str],
                     result: Recognised) -> None:
        configs = [n for n in names if n.endswith(".yaml")]
        sets: dict[str, list[str]] = {}  # result set name -> its files; dicts keep file order
        for name in names:
            if name.endswith(".yaml"):
                continue
            stem = next(name[: -len(s)] for s in _SET_SUFFIXES if name.endswith(s))
            sets.setdefault(stem, []).append(name)
        if not sets:  # only a config: DeepLabCut was set up but never run on the video
            sets[""] = []
        for stem, files in sets.items():
            complete = f"{stem}.h5" in files
            result.outputs.append(Output(kind="dlc", path=folder, recording=basename,
                                         files=sorted(files + configs), complete=complete))
            if not complete:
                what = f"result set '{stem}' has no {stem}.h5" if stem else "no result set (.h5)"
                result.findings.append(session.finding(
                    "DLC.INCOMPLETE", folder, f"{what}; copy the .h5 from the analysis computer or "
                    "rerun analyze_videos"))


def basenames(folder_name: str, subject: str) -> list[str]:
    """What a DeepLabCut folder's name may say its recording is, in each of the lab's three spellings."""
    match = _FOLDER.match(folder_name)
    if match is None:
        return []
    rest = match["rest"]
    out = []
    if rest.startswith("_"):
        out.append(rest[1:])                                  # dlc_<basename>
    if subject and rest.startswith(f"{subject}_"):
        out.append(rest[len(subject) + 1:])                   # dlc<subject>_<basename>
    if subject and rest.startswith(f"_{subject}_"):
        out.append(rest[len(subject) + 2:])                   # dlc_<subject>_<basename>
    return [b for b in dict.fromkeys(out) if b]


def attribute(session: SessionFiles, outputs: list[Output], recordings: list[Recording]) -> list[Finding]:
    """Set each DeepLabCut output's ``recording`` to the one recording its folder names; findings where none or several.

    Run once all systems have listed the session's recordings (a DeepLabCut folder names a video
    or a ScanImage basename, which other systems find). A folder whose name fits no recording, or
    fits two, keeps ``recording=''`` and gets one finding naming what was tried: never a guess.
    """
    names = {r.name for r in recordings}
    findings: list[Finding] = []
    reported: set[str] = set()
    for output in outputs:
        if output.kind != "dlc":
            continue
        folder_name = output.path.rpartition("/")[2]
        options = basenames(folder_name, session.subject)
        matched = [b for b in options if b in names]
        if len(matched) == 1:
            output.recording = matched[0]
            continue
        if output.path in reported:
            continue
        reported.add(output.path)
        tried = " or ".join(f"'{b}'" for b in options) or "nothing"
        if matched:
            findings.append(session.finding(
                "DLC.AMBIGUOUS", output.path,
                f"the folder name fits recordings {' and '.join(repr(b) for b in matched)}; rename it "
                f"dlc_<recording> for the one it analysed"))
        else:
            known = ", ".join(sorted(names)[:8]) or "none"
            findings.append(session.finding(
                "DLC.NO_RECORDING", output.path,
                f"the folder name names {tried}, which is no recording of this session (recordings: {known}); "
                "rename it dlc_<recording> or move it to the session it belongs to",
                expected="dlc_<basename>, dlc<subject>_<basename> or dlc_<subject>_<basename>"))
    return findings
