"""DeepLabCut pose estimation: result sets in ``dlc_<basename>/`` or ``dlc<subject>_<basename>/`` folders.

DeepLabCut names each result set after the video, the network and the training iteration
(``<video>DLC_resnet50_<project>shuffle1_100000.h5``, with ``..._meta.pickle`` beside it). A folder
may hold several sets (another scorer, a later iteration); each is one Output, in file order,
because each is a separate analysis that a person chooses between and each is complete or not
on its own. The folder's ``.yaml`` (the project config) belongs to every set.
"""

from __future__ import annotations

import re

from mass_ingest.candidates import Output
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles

# dlc_<basename> or dlc<subject>_<basename>; ScanImage basenames hold no '_', so the first '_' splits.
_FOLDER = re.compile(r"^dlc(?P<subject>[^_]*)_(?P<basename>.+)$", re.IGNORECASE)
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
            basename = _FOLDER.match(folder.rpartition("/")[2])["basename"]
            cls._result_sets(session, folder, basename, names, result)
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
