"""Neuralynx (Cheetah) recordings: the lab saves one tetrode file (``.ntt``) per session."""

from __future__ import annotations

from mass_ingest.candidates import Recording
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles


class Neuralynx(RecordingSystem):
    """One recording per ``.ntt``, counting the ``.ncs`` channels and ``.nev`` events beside it.

    More than one ``.ntt`` in a session means two recordings were put in one folder (or a copy
    was left behind): each is still listed, with a finding so that a person splits or cleans it.
    """

    name = "neuralynx"
    display_name = "Neuralynx Cheetah"
    modality = "ephys"
    associated_suffixes = (".ntt", ".ncs", ".nev")
    spikes = ".ntt"
    companions = (".ncs", ".nev")
    events = ".nev"     # one small file per recording: named in files, it identifies the recording too

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        ntts = session.files.with_suffix(cls.spikes)
        if not ntts:
            return result
        # Continuous channels (.ncs, one per channel) are only counted: there may be dozens.
        beside: dict[str, list[str]] = {}
        for entry in session.files.with_suffix(*cls.companions):
            beside.setdefault(entry.rel.rpartition("/")[0], []).append(entry.rel)
        for ntt in ntts:
            folder = ntt.rel.rpartition("/")[0]
            others = beside.get(folder, [])
            events = [rel for rel in others if rel.lower().endswith(cls.events)]
            result.recordings.append(Recording(system=cls.name, name=ntt.name[: -len(cls.spikes)], folder=folder,
                                               files=sorted([ntt.rel, *events]), n_files=1 + len(others)))
        if len(ntts) > 1:
            names = ", ".join(f.rel for f in ntts)
            result.findings.append(session.finding(
                "NEURALYNX.MULTIPLE_NTT", "",
                f"{len(ntts)} .ntt files ({names}) in one session; the lab records one per session, so move "
                "each recording to its own session folder or remove the copy",
                expected="one .ntt file per session folder"))
        return result
