"""Read what a ScanImage TIFF's headers tell: frames, frame size, and when the acquisition started.

tifffile reads the TIFF structure (pages, shape, dtype, the ImageDescription and Software tags);
ScanImage's own text in those tags is ``key = value`` lines in MATLAB syntax:

- ScanImage 2016 and later: each frame's description holds ``epoch = [2022 4 19 10 15 3.2513]``
  (the acquisition's start) and ``frameTimestamps_sec``; the Software tag holds ``SI.*`` settings
  (``SI.hRoiManager.scanFrameRate``, ``SI.hChannels.channelSave``, ``SI.VERSION_MAJOR``);
- ScanImage 4/5: the description holds ``scanimage.SI.triggerClockTimeFirst = '19-04-2022 10:15:03.251'``
  (``SI4`` or ``SI5`` in older versions);
- ScanImage 3: ``state.internal.triggerTimeString = '4/19/2022 10:15:03.251'``.

Only the page chain is walked to count frames (tifffile reads each page's offset, not its tags or
pixels), so a 4 GB file costs a few thousand small reads, not 4 GB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_EPOCH = re.compile(r"^epoch\s*=\s*\[([^\]]*)\]", re.MULTILINE)
_CLOCK = re.compile(r"triggerClockTimeFirst\s*=\s*'([^']*)'")
_SI3 = re.compile(r"state\.internal\.triggerTimeString\s*=\s*'([^']*)'")
_RATE = re.compile(r"(?:SI\.hRoiManager\.scanFrameRate|scanimage\.SI\d?\.scanFrameRate|"
                   r"state\.acq\.frameRate)\s*=\s*([0-9.eE+-]+)")
_CHANNELS = re.compile(r"(?:SI\.hChannels\.channelSave|scanimage\.SI\d?\.channelsSave)\s*=\s*(\[[^\]]*\]|[0-9]+)")
_VERSION = re.compile(r"SI\.VERSION_MAJOR\s*=\s*'?([0-9A-Za-z.]+)'?")


@dataclass(frozen=True)
class TiffHeader:
    """What one ScanImage TIFF file tells."""

    n_pages: int
    height: int
    width: int
    dtype: str
    started: datetime | None          # the acquisition's start (naive local time of the rig), when written
    frame_rate: float | None
    n_channels: int                   # channels saved; pages = frames x channels
    scanimage: bool                   # ScanImage's headers were found (not only a TIFF)
    version: str | None

    @property
    def n_frames(self) -> int:
        return self.n_pages // max(self.n_channels, 1)


class TiffUnreadable(Exception):
    """The file is not a TIFF tifffile can read (cut short, empty, another format)."""


def read_tiff_header(path: str) -> TiffHeader:
    """Read one TIFF's headers; raises :class:`TiffUnreadable` with the reason when it cannot."""
    import tifffile  # here, not at import: discovery of an ephys share never needs it

    try:
        with tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            if n_pages == 0:
                raise TiffUnreadable("it holds no image")
            page = tif.pages.first
            shape, dtype = page.shape, str(page.dtype)
            description, software = page.description or "", page.software or ""
    except TiffUnreadable:
        raise
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error... on bad bytes
        raise TiffUnreadable(str(exc) or type(exc).__name__) from None
    text = f"{description}\n{software}"
    height, width = (shape[-2], shape[-1]) if len(shape) >= 2 else (1, shape[0] if shape else 0)
    return TiffHeader(n_pages=n_pages, height=int(height), width=int(width), dtype=dtype,
                      started=_started(text), frame_rate=_float(_RATE.search(text)), n_channels=_channels(text),
                      scanimage=("SI." in software or "scanimage" in text or "state." in description or
                                 _EPOCH.search(text) is not None),
                      version=(m := _VERSION.search(text)) and m[1])


def _started(text: str) -> datetime | None:
    epoch = _EPOCH.search(text)
    if epoch:
        try:
            numbers = [float(x) for x in re.split(r"[\s,;]+", epoch[1].strip()) if x]
            year, month, day, hour, minute, seconds = numbers
            whole = int(seconds)
            return datetime(int(year), int(month), int(day), int(hour), int(minute), whole,
                            int(round((seconds - whole) * 1e6)) % 1_000_000)
        except ValueError:  # not six numbers, or not a date
            return None
    for pattern, formats in ((_CLOCK, ("%d-%m-%Y %H:%M:%S.%f", "%d-%m-%Y %H:%M:%S")),
                             (_SI3, ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S"))):
        found = pattern.search(text)
        if found:
            for fmt in formats:
                try:
                    return datetime.strptime(found[1].strip(), fmt)
                except ValueError:
                    continue
    return None


def _float(match: re.Match | None) -> float | None:
    if match is None:
        return None
    try:
        return float(match[1])
    except ValueError:
        return None


def _channels(text: str) -> int:
    found = _CHANNELS.search(text)
    if not found:
        return 1
    return max(1, len(re.findall(r"[0-9]+", found[1])))
