"""The imaging file readers on real files: ScanImage TIFF headers (tifffile) and video headers (PyAV)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import tifffile

from mass_ingest.readers.scanimage_tiff import TiffUnreadable, read_tiff_header
from mass_ingest.readers.video import VideoUnreadable, read_video_header
from tests.lab_page_tree import write_scanimage_tiff, write_tiff_bytes, write_video


def _tiff(path: Path, pages: int, description: str, software: str = "", shape: tuple[int, int] = (16, 24)) -> str:
    """A TIFF of ``pages`` pages; BigTIFF as ScanImage 2016+ writes (tifffile reads older ScanImage classic
    TIFFs by their uniform page spacing, which a file written page by page here does not have)."""
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for _ in range(pages):
            tif.write(np.zeros(shape, dtype=np.uint16), description=description, software=software or None,
                      metadata=None, contiguous=False)
    return str(path)


class TestScanImageTiff:
    def test_scanimage_2016_frames_size_rate_version_and_epoch(self, tmp_path: Path) -> None:
        path = tmp_path / "fov_00001_00001.tif"
        write_scanimage_tiff(path, epoch=datetime(2022, 4, 19, 10, 15, 3, 251300), frames=4)
        header = read_tiff_header(str(path))
        assert (header.n_pages, header.n_frames, header.height, header.width, header.dtype, header.frame_rate,
                header.version, header.scanimage, header.started) == (
            4, 4, 32, 48, "int16", 30.0, "2021", True, datetime(2022, 4, 19, 10, 15, 3, 251300))

    def test_two_saved_channels_make_half_as_many_frames_as_pages(self, tmp_path: Path) -> None:
        software = "SI.VERSION_MAJOR = '2020'\nSI.hChannels.channelSave = [1;2]\nSI.hRoiManager.scanFrameRate = 15"
        header = read_tiff_header(_tiff(tmp_path / "a.tif", 6, "frameNumbers = 1\nepoch = [2021 5 4 9 0 0]",
                                        software))
        assert (header.n_pages, header.n_channels, header.n_frames, header.frame_rate, header.started) == (
            6, 2, 3, 15.0, datetime(2021, 5, 4, 9, 0, 0))

    def test_scanimage_5_and_3_trigger_times(self, tmp_path: Path) -> None:
        si5 = read_tiff_header(_tiff(tmp_path / "si5.tif", 1,
                                     "scanimage.SI.triggerClockTimeFirst = '19-04-2022 10:15:03.250'\n"
                                     "scanimage.SI.scanFrameRate = 7.5"))
        si3 = read_tiff_header(_tiff(tmp_path / "si3.tif", 1, "state.configPath='C:\\\\'\n"
                                     "state.internal.triggerTimeString='4/19/2022 10:15:03.250'"))
        assert (si5.started, si5.frame_rate, si5.scanimage) == (datetime(2022, 4, 19, 10, 15, 3, 250000), 7.5, True)
        assert (si3.started, si3.scanimage) == (datetime(2022, 4, 19, 10, 15, 3, 250000), True)

    def test_a_plain_tiff_is_read_but_states_no_start(self, tmp_path: Path) -> None:
        path = tmp_path / "plain.tif"
        path.write_bytes(write_tiff_bytes())
        header = read_tiff_header(str(path))
        assert (header.n_frames, header.scanimage, header.started) == (1, False, None)

    @pytest.mark.parametrize("content", [b"", b"II*\x00\x08\x00\x00\x00", b"not a tiff at all"])
    def test_a_file_tifffile_cannot_read_raises_with_the_reason(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "bad.tif"
        path.write_bytes(content)
        with pytest.raises(TiffUnreadable) as info:
            read_tiff_header(str(path))
        assert str(info.value)


class TestVideo:
    def test_duration_frames_rate_and_size_come_from_the_header(self, tmp_path: Path) -> None:
        for suffix in ("mp4", "avi"):
            path = tmp_path / f"cam.{suffix}"
            write_video(path, frames=20, rate=10, shape=(32, 48))
            header = read_video_header(str(path))
            assert (round(header.duration_s, 2), header.n_frames, header.frame_rate, header.width, header.height) == (
                2.0, 20, 10.0, 48, 32), suffix

    @pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42 cut short"])
    def test_a_video_with_no_readable_header_raises_with_the_reason(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "cam.mp4"
        path.write_bytes(content)
        with pytest.raises(VideoUnreadable) as info:
            read_video_header(str(path))
        assert str(info.value)
