"""SpikeGLX ``.meta`` text as the acquisition computer writes it: the one writer of the demo, the tests
and the benchmarks (the reader is :mod:`mass_ingest.readers.spikeglx`).

Three shapes, one way of writing them: :func:`meta_text` turns keys and values into the file's lines;
:func:`probe_meta` is the smallest .ap.meta the reader takes as a Neuropixels 1.0 probe (the tests');
:func:`acquisition_meta` is what SpikeGLX 20201012 leaves beside a probe's .bin (the demo's and the
benchmarks', which add the keys a full rig writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

N_CHANS = 385  # 384 electrodes + the sync channel
FRAME = N_CHANS * 2  # int16 per channel per sample
AP_RATE, LF_RATE = 30000, 2500


class ProbeKind(NamedTuple):
    """What SpikeGLX writes for one probe model."""

    label: str         # the lab's name for it (the subjects CSV's probe_type)
    part_number: str   # imDatPrb_pn
    type_code: int     # imDatPrb_type
    max_int: int       # imMaxInt
    has_lf: bool       # saves a separate LF band (.lf.bin / .lf.meta)
    imro_entry: str    # one channel's entry of ~imroTbl, '{c}' the channel


PROBE_KINDS = {
    "1.0": ProbeKind("neuropixels 1.0 - 3B", "PRB_1_4_0480_1", 0, 512, True, "({c} 0 0 500 250 1)"),
    "2.0": ProbeKind("neuropixels 2.0 - SS", "PRB2_1_2_0640_0", 21, 8192, False, "({c} 1 0 {c})"),
}


def meta_text(fields: Mapping[str, object], newline: str = "\n") -> str:
    """``fields`` as .meta text: a ``key=value`` line each, in their order; a None value leaves its key out.

    SpikeGLX itself ends lines with CRLF on Windows (``newline="\\r\\n"``).
    """
    return "".join(f"{key}={value}{newline}" for key, value in fields.items() if value is not None)


def probe_meta(serial: str, size: int, created: datetime) -> str:
    """The keys the reader needs of a 1.0 probe's .ap.meta whose .ap.bin holds ``size`` bytes."""
    return meta_text({
        "imDatPrb_sn": serial, "imDatPrb_pn": PROBE_KINDS["1.0"].part_number, "imDatPrb_type": "0",
        "nSavedChans": str(N_CHANS), "imSampRate": str(AP_RATE), "fileSizeBytes": str(size),
        "fileTimeSecs": f"{size / FRAME / AP_RATE:.9g}", "fileCreateTime": f"{created:%Y-%m-%dT%H:%M:%S}",
        "typeThis": "imec",
    })


def acquisition_meta(*, subject: str, session: str, probe: int, stream: str, serial: str, created: datetime,
                     n_samples: int, first_sample: int, kind: str = "1.0", enabled: int = 1,
                     imro_channels: int = 4, extra: Mapping[str, str] | None = None) -> str:
    """One stream's .meta of probe ``probe`` (``probe_<n>/npx.imec.<stream>.bin``) as SpikeGLX 20201012 writes it.

    Args:
        subject, session: the folders SpikeGLX wrote to on the acquisition computer (``fileName``).
        stream: "ap" or "lf" (a 2.0 probe has no LF band).
        n_samples: samples in the .bin, of :data:`N_CHANS` int16 channels each.
        first_sample: the stream's sample count when the file opened.
        kind: a key of :data:`PROBE_KINDS`.
        enabled: how many probes the run recorded (``typeImEnabled``).
        imro_channels: entries of ``~imroTbl`` written (a real one has 384; a few keep a small file small).
        extra: more keys a full rig writes (headstage, base station, channel maps).

    Returns:
        The text, its keys in the order SpikeGLX writes them (sorted, the ``~`` keys last).
    """
    probe_kind = PROBE_KINDS[kind]
    rate = AP_RATE if stream == "ap" else LF_RATE
    fields = {
        "acqApLfSy": "384,384,1" if probe_kind.has_lf else "384,0,1", "appVersion": "20201012",
        "fileCreateTime": f"{created:%Y-%m-%dT%H:%M:%S}",
        "fileName": f"D:/SGL_DATA/{subject}/{session}/probe_{probe}/npx.imec.{stream}.bin",
        "fileSizeBytes": str(n_samples * FRAME), "fileTimeSecs": f"{n_samples / rate:.9g}",
        "firstSample": str(first_sample), "gateMode": "Immediate", "imAiRangeMax": "0.6", "imAiRangeMin": "-0.6",
        "imDatApi": "3.31", "imDatPrb_pn": probe_kind.part_number, "imDatPrb_port": str(probe),
        "imDatPrb_slot": "2", "imDatPrb_sn": serial, "imDatPrb_type": str(probe_kind.type_code),
        "imMaxInt": str(probe_kind.max_int), "imSampRate": str(rate), "nSavedChans": str(N_CHANS),
        "snsApLfSy": "384,0,1" if stream == "ap" else "0,384,1", "snsSaveChanSubset": "all",
        "syncSourcePeriod": "1", "trigMode": "Immediate", "typeImEnabled": str(enabled),
        "typeNiEnabled": "0", "typeThis": "imec", "userNotes": "",
        "~imroTbl": f"({probe_kind.type_code},384)"
                    + "".join(probe_kind.imro_entry.format(c=c) for c in range(imro_channels)),
        **(extra or {}),
    }
    return meta_text({key: fields[key] for key in sorted(fields)})
