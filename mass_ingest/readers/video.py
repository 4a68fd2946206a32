"""Read a video's header: duration, frame count, frame rate and size, with PyAV (FFmpeg's demuxers).

PyAV (``av``, wheels that carry FFmpeg's libraries) opens the container and reads its headers and
the first packets FFmpeg needs to tell the streams apart; no frame is decoded. MP4's ``moov`` box
and AVI's ``avih``/``strh`` headers hold the duration and the frame count, so the cost does not grow
with the video's length (an MP4 written with its ``moov`` at the end costs one seek there).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoHeader:
    duration_s: float | None
    n_frames: int | None      # as the container states it; None when it does not
    frame_rate: float | None
    width: int
    height: int
    codec: str


class VideoUnreadable(Exception):
    """No readable video header (an empty file, a cut-short copy, not a video)."""


def read_video_header(path: str) -> VideoHeader:
    """The header of the first video stream; raises :class:`VideoUnreadable` with the reason."""
    import av  # here, not at import: an ephys share never needs FFmpeg loaded

    try:
        with av.open(path, mode="r", metadata_errors="ignore") as container:
            streams = container.streams.video
            if not streams:
                raise VideoUnreadable("it holds no video stream")
            stream = streams[0]
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            rate = stream.average_rate or stream.guessed_rate
            return VideoHeader(duration_s=duration, n_frames=stream.frames or None,
                               frame_rate=float(rate) if rate else None, width=stream.codec_context.width,
                               height=stream.codec_context.height, codec=stream.codec_context.name)
    except VideoUnreadable:
        raise
    except Exception as exc:  # av.error.InvalidDataError, OSError, ...: the file does not read as a video
        raise VideoUnreadable(str(exc) or type(exc).__name__) from None
