"""The tree the lab's "Mass data ingestion" page draws, built on disk with real-looking files.

/work/shared/lab-page/mass_ingestion.rst draws one share: ``analysis/``, ``histology/`` and
``recordings/`` with ephys subjects (``<YYYY-MM-DD_HH-MM-SS>/`` holding logs/, motive/, probe_1..3 each
with ``npx.imec.ap.bin`` beside ``np.ximec.ap.meta`` (the page's typo, kept), sessions.txt, sync_all.mat)
and imaging subjects (``<YYYYMMDD>/`` holding ScanImage tifs, .mp4 videos, DeepLabCut folders spelt two
ways and ``suite2p/{combined,plane0,plane1}``). The names are the page's, exactly; the contents are
real: SpikeGLX .meta text and .bin noise from :mod:`mass_ingest.demo`, TIFFs with ScanImage 2016+
frame headers written by tifffile, MP4s encoded by PyAV, suite2p .npy files written by numpy.

8 sessions: 5 ephys (12345 x2, 12346 x2, 12347 x1) and 3 imaging (23456 x2, 23457 x1). The ephys
subjects are in ``subjects.csv`` (3 probes each); the imaging subjects are in no file, as the lab's
rule allows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from mass_ingest.demo import TIMEZONE, age_folders, write_ephys_session, write_file

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "profiles" / "moser-lab.yaml"
META_STEM = "np.ximec"  # the page's spelling of the probe's .meta, beside npx.imec.ap.bin
PROBE_TYPE = "neuropixels 2.0 - SS"  # the demo's "2.0" kind: AP band only, as the page draws

# subject -> serials of probe_1..3, implanted on
EPHYS_SUBJECTS = {
    "12345": (("19011111101", "19011111102", "19011111103"), datetime(2019, 12, 10, 9, 0)),
    "12346": (("19011111201", "19011111202", "19011111203"), datetime(2019, 12, 11, 9, 0)),
    "12347": (("19011111301", "19011111302", "19011111303"), datetime(2019, 12, 12, 9, 0)),
}
EPHYS_SESSIONS = (
    ("12345", datetime(2020, 1, 1, 10, 0, 30)),   # the page's two folder names
    ("12345", datetime(2020, 1, 2, 11, 13, 17)),
    ("12346", datetime(2020, 1, 1, 14, 2, 45)),
    ("12346", datetime(2020, 1, 3, 9, 41, 52)),
    ("12347", datetime(2020, 1, 2, 11, 13, 17)),
)


@dataclass(frozen=True)
class ImagingSession:
    subject: str
    day: str                 # the folder name, YYYYMMDD
    started: datetime        # the first frame's time in the ScanImage header (epoch), local time
    acquisitions: int = 2    # openfield_00001 and openfield_00002, each one video and one DLC folder

    @property
    def rel_path(self) -> str:
        return f"recordings/{self.subject}/{self.day}"

    @property
    def session_start(self) -> datetime:
        """What discovery should infer: the header's time, to the second."""
        return self.started.replace(microsecond=0)


IMAGING_SESSIONS = (
    ImagingSession("23456", "20220419", datetime(2022, 4, 19, 10, 15, 3, 251300)),
    ImagingSession("23456", "20220420", datetime(2022, 4, 20, 9, 2, 41, 500000)),
    ImagingSession("23457", "20220419", datetime(2022, 4, 19, 13, 47, 12, 80000)),
)
FRAMES_PER_PART = 3      # frames in each ScanImage tif part (2 parts per acquisition)
FRAME_SHAPE = (32, 48)   # height, width
FRAME_RATE = 30.0
VIDEO_FRAMES, VIDEO_RATE, VIDEO_SHAPE = 15, 15, (48, 64)  # a 1 s video per acquisition
SUITE2P_PLANE = ("F.npy", "Fneu.npy", "iscell.npy", "ops.npy", "spks.npy", "stat.npy")


@dataclass(frozen=True)
class LabPageTree:
    """Where the tree lives and what it holds."""

    root: Path                 # the share root (pass it as --root)
    profile: Path              # profiles/moser-lab.yaml
    subjects_csv: Path         # the ephys subjects and their probes; no imaging subject
    ephys: tuple[tuple[str, datetime], ...] = EPHYS_SESSIONS
    imaging: tuple[ImagingSession, ...] = IMAGING_SESSIONS

    @property
    def session_ids(self) -> list[str]:
        """Every session's id as discovery names it (imaging ones with the inferred start)."""
        ids = [f"{s}/{t:%Y-%m-%d_%H-%M-%S}" for s, t in self.ephys]
        ids += [f"{s.subject}/{s.session_start:%Y-%m-%d_%H-%M-%S}" for s in self.imaging]
        return sorted(ids)


def make_lab_page_tree(base: Path) -> LabPageTree:
    """Build the page's share under ``base/share`` and the ephys subjects CSV beside it."""
    root = base / "share"
    for subject, start in EPHYS_SESSIONS:
        serials, _ = EPHYS_SUBJECTS[subject]
        write_ephys_session(root / "recordings" / subject / f"{start:%Y-%m-%d_%H-%M-%S}", subject, start, "2.0",
                            serials, samples=8, meta_stem=META_STEM)
    for session in IMAGING_SESSIONS:
        write_imaging_session(root / session.rel_path, session)
    when = datetime(2022, 6, 1, 12, 0, 0)
    write_file(root / "analysis" / "grid_scores.csv", b"subject,session,cluster,score\n12345,1,4,0.7\n", when)
    write_file(root / "histology" / "12345" / "section_0001.tif", write_tiff_bytes(), when)
    age_folders(root)
    rows = ["subject,probe_name,serial,probe_type,insertion_time"]
    for subject, (serials, implanted) in EPHYS_SUBJECTS.items():
        # Probe names are unique across subjects, as the lab names them: <serial>_<subject>_<n>.
        rows += [f"{subject},{serial}_{subject}_{n},{serial},{PROBE_TYPE},{implanted:%Y-%m-%d %H:%M:%S}"
                 for n, serial in enumerate(serials, 1)]
    subjects_csv = base / "subjects.csv"
    subjects_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return LabPageTree(root=root, profile=PROFILE, subjects_csv=subjects_csv)


def write_imaging_session(folder: Path, session: ImagingSession) -> None:
    """One imaging day as the page draws it, files dated as written during the recording."""
    for acq in range(1, session.acquisitions + 1):
        acq_start = session.started + timedelta(minutes=20 * (acq - 1))
        for part in range(1, 3):
            first_frame = (part - 1) * FRAMES_PER_PART
            path = folder / f"openfield_{acq:05d}_{part:05d}.tif"
            write_scanimage_tiff(path, epoch=acq_start, acquisition=acq, first_frame=first_frame)
            _date(path, acq_start + timedelta(seconds=(first_frame + FRAMES_PER_PART) / FRAME_RATE))
        video = folder / f"openfield_{acq:05d}.mp4"
        write_video(video)
        _date(video, acq_start + timedelta(seconds=2))
    # DeepLabCut on each video, in the page's two spellings of the folder name.
    for acq, name in ((1, f"dlc{session.subject}_openfield_00001"), (2, f"dlc_{session.subject}_openfield_00002")):
        if acq > session.acquisitions:
            continue
        dlc, when = folder / name, session.started + timedelta(days=3)  # the page's three files
        write_file(dlc / "dlc_config_file.yaml", b"Task: openfield\nscorer: moser\nbodyparts: [nose, tail]\n", when)
        write_file(dlc / f"{session.subject}_meta.pickle", b"\x80\x04}\x94.", when)  # an empty pickled dict
        write_file(dlc / f"{session.subject}.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 56, when)  # HDF5 signature
    # suite2p over both acquisitions: one run, two planes and their combination.
    when = session.started + timedelta(days=1)
    s2p = folder / "suite2p"
    for sub in ("plane0", "plane1", "combined"):
        for name in SUITE2P_PLANE:
            path = s2p / sub / name
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.zeros((2, 4), dtype=np.float32), allow_pickle=False)
            _date(path, when)


def scanimage_software(n_channels: int = 1) -> str:
    """The non-varying header ScanImage 2016+ writes in each frame's Software tag."""
    return "\n".join([
        "SI.VERSION_MAJOR = '2021'", "SI.VERSION_MINOR = '1'",
        f"SI.hChannels.channelSave = {list(range(1, n_channels + 1)) if n_channels > 1 else 1}",
        f"SI.hRoiManager.scanFrameRate = {FRAME_RATE}",
        f"SI.hRoiManager.linesPerFrame = {FRAME_SHAPE[0]}", f"SI.hRoiManager.pixelsPerLine = {FRAME_SHAPE[1]}",
        "SI.hStackManager.numSlices = 1", "SI.hScan2D.logFramesPerFile = 3",
    ])


def write_scanimage_tiff(path: Path, *, epoch: datetime, acquisition: int = 1, first_frame: int = 0,
                         frames: int = FRAMES_PER_PART, shape: tuple[int, int] = FRAME_SHAPE) -> None:
    """A TIFF as ScanImage 2016+ writes one: a frame per page, each with its frame header as description."""
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"[{epoch.year} {epoch.month} {epoch.day} {epoch.hour} {epoch.minute} " \
            f"{epoch.second + epoch.microsecond / 1e6:.4f}]"
    rng = np.random.default_rng(acquisition * 1000 + first_frame)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for i in range(frames):
            n = first_frame + i + 1
            description = "\n".join([
                f"frameNumbers = {n}", f"acquisitionNumbers = {acquisition}", f"frameNumberAcquisition = {n}",
                f"frameTimestamps_sec = {(n - 1) / FRAME_RATE:.6f}", f"epoch = {stamp}", "auxTrigger0 = []"])
            tif.write(rng.integers(0, 2000, shape, dtype=np.int16), description=description,
                      software=scanimage_software(), metadata=None, contiguous=False)


def write_tiff_bytes() -> bytes:
    """A small plain TIFF (a histology section): not ScanImage's."""
    import io

    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((8, 8), dtype=np.uint8))
    return buffer.getvalue()


def write_video(path: Path, frames: int = VIDEO_FRAMES, rate: int = VIDEO_RATE,
                shape: tuple[int, int] = VIDEO_SHAPE) -> None:
    """A short real MPEG-4 video (what the rig's camera leaves), encoded by PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.height, stream.width = shape
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((*shape, 3), (i * 13) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _date(path: Path, when: datetime) -> None:
    stamp = when.replace(tzinfo=ZoneInfo(TIMEZONE)).timestamp()
    os.utime(path, (stamp, stamp))
