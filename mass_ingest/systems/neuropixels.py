"""Neuropixels probes recorded with SpikeGLX: one probe per ``*.ap.meta`` below the session folder."""

from __future__ import annotations

import os

from mass_ingest.candidates import ProbeRecording
from mass_ingest.readers.spikeglx import read_meta_values
from mass_ingest.systems.base import Recognised, RecordingSystem, SessionFiles
from mass_ingest.file_list import FileEntry

# The .meta's values a probe keeps.
_FROM_META = ("serial", "probe_type", "part_number", "n_saved_chans", "sample_rate", "file_size_bytes",
              "file_time_secs", "file_create_time")


class Neuropixels(RecordingSystem):
    """``<run>.imecN.ap.meta`` + ``.ap.bin`` per probe, at any depth (``probe_1/``, ``run_g0_imec0/``).

    A ``.meta`` pairs with the ``.bin`` of the same stem. Where a folder's names differ, they are
    paired as a person would: the only ``.ap.bin`` left with the only ``.ap.meta`` left in that
    folder (the lab page's ``npx.imec.ap.bin`` beside ``np.ximec.ap.meta``), with a warning naming
    the rename to make; with more than one possible partner nothing is guessed: the session is
    stopped by an error naming them. A file name is never made up.
    """

    name = "spikeglx"
    display_name = "Neuropixels (SpikeGLX)"
    modality = "ephys"
    associated_suffixes = (".ap.meta", ".ap.bin", ".lf.meta", ".lf.bin")

    @classmethod
    def recognise(cls, session: SessionFiles) -> Recognised:
        result = Recognised()
        by_rel = {f.rel: f for f in session.files.with_suffix(*cls.associated_suffixes, exact_case=True)}
        pairs = cls._pairs(session, by_rel, result)
        for entry in by_rel.values():
            if entry.name.endswith(".ap.meta"):
                result.probes.append(cls._probe(session, entry, by_rel, pairs.get(entry.rel), result))
        return result

    @staticmethod
    def _pairs(session: SessionFiles, by_rel: dict[str, FileEntry], result: Recognised) -> dict[str, str | None]:
        """meta rel -> its .ap.bin rel (None: no partner; '': several possible, none taken).

        Unpaired .bins go to bins_without_meta, which stops the session at quality.
        """
        folders: dict[str, tuple[list[str], list[str]]] = {}  # folder -> (bins, metas), in path order
        for rel, entry in by_rel.items():
            kind = 0 if entry.name.endswith(".ap.bin") else 1 if entry.name.endswith(".ap.meta") else None
            if kind is not None:
                folders.setdefault(rel.rpartition("/")[0], ([], []))[kind].append(rel)
        pairs: dict[str, str | None] = {}
        for folder, (bins, metas) in folders.items():
            # A .meta that is a FIFO or device is already a DISCOVER.SPECIAL_FILE finding: it is there, not missing.
            lonely_bins = [b for b in bins if b[: -len(".bin")] + ".meta" not in by_rel
                           and b[: -len(".bin")] + ".meta" not in session.files.special]
            lonely_metas = []
            for meta in metas:
                partner = meta[: -len(".meta")] + ".bin"
                if partner in by_rel:
                    pairs[meta] = partner
                else:
                    lonely_metas.append(meta)
            where = folder or "the session folder"
            if len(lonely_bins) == 1 and len(lonely_metas) == 1:
                meta, bin_rel = lonely_metas[0], lonely_bins[0]
                pairs[meta] = bin_rel
                wanted = bin_rel.rpartition("/")[2][: -len(".bin")] + ".meta"
                result.findings.append(session.finding(
                    "EPHYS.META_RENAMED", meta,
                    f"paired with {bin_rel.rpartition('/')[2]}, the only .ap.bin and .ap.meta without a partner in "
                    f"{where}; rename {meta.rpartition('/')[2]} to {wanted} so that SpikeGLX tools find it",
                    expected="<run>.ap.bin beside <run>.ap.meta"))
                continue
            if lonely_bins and lonely_metas:
                names = ", ".join(r.rpartition("/")[2] for r in lonely_bins + lonely_metas)
                result.findings.append(session.finding(
                    "EPHYS.AMBIGUOUS_PAIR", folder,
                    f"{where} holds {len(lonely_bins)} .ap.bin and {len(lonely_metas)} .ap.meta whose names differ "
                    f"({names}); which .meta describes which .bin cannot be told, so none is paired: rename them "
                    "to <run>.ap.bin / <run>.ap.meta pairs", expected="<run>.ap.bin beside <run>.ap.meta"))
            for meta in lonely_metas:
                pairs[meta] = "" if lonely_bins else None
            for bin_rel in lonely_bins:
                result.bins_without_meta.append(bin_rel)
                if not lonely_metas:
                    result.findings.append(session.finding(
                        "EPHYS.BIN_WITHOUT_META", bin_rel,
                        "this .ap.bin has no .ap.meta beside it; copy the .meta from the acquisition computer"))
        result.bins_without_meta.sort()
        return pairs

    @staticmethod
    def _probe(session: SessionFiles, entry: FileEntry, by_rel: dict[str, FileEntry], bin_rel: str | None,
               result: Recognised) -> ProbeRecording:
        # The .meta's values as a dict, validated by ProbeRecording below (not first by a SpikeGLXMeta as well).
        meta, findings = read_meta_values(entry.path, share=session.share,
                                          rel_path=f"{session.session_rel}/{entry.rel}")
        result.findings.extend(findings)
        stem = entry.rel[: -len(".ap.meta")]
        bin_entry = by_rel.get(bin_rel) if bin_rel else None
        if bin_rel is None:  # '' (ambiguous) has its own finding, naming the candidates
            result.findings.append(session.finding(
                "EPHYS.META_WITHOUT_BIN", entry.rel,
                "the .ap.bin this .meta describes is missing; copy it or remove the .meta"))
        fields = {} if meta is None else {name: meta[name] for name in _FROM_META}
        bin_size, bin_mtime = _size_and_mtime(bin_entry)
        return ProbeRecording(folder=entry.rel.rpartition("/")[0], meta_file=entry.rel, bin_file=bin_rel or None,
                              bin_size=bin_size, bin_mtime=bin_mtime, has_lf=stem + ".lf.meta" in by_rel, **fields)


def _size_and_mtime(entry: FileEntry | None) -> tuple[int | None, float | None]:
    """Size and modification time (epoch seconds) of a .bin, from one stat; (None, None) when it is missing.

    Only the .bin files are stat'ed: the walker's scandir gave types, not sizes. Quality reads
    both to tell a finished recording from one still being copied.
    """
    if entry is None:
        return None, None
    try:
        stat = os.stat(entry.path)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime
