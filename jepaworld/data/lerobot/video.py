"""Camera streams through PyAV: frames of one episode out of an MP4 (decoded, cropped square, resized),
and episodes into an MP4 (AV1 by default, as LeRobot writes them).

LeRobot puts several episodes back to back in one MP4; an episode's frame ``i`` is the video frame
shown at ``from_timestamp + timestamp_i``. A frame further than ``TOLERANCE`` frame periods from that
time is missing (a damaged or truncated video), and the error names the episode and the frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jepaworld.data.episodes import DataError

TOLERANCE = 0.4  # in frame periods: nearer than half a period, so a neighbouring frame never matches
# What LeRobot 0.6 writes by default: AV1 (SVT-AV1), yuv420p, a key frame every 2 frames, CRF 30.
CODEC, PIX_FMT, GOP, CRF, PRESET = "libsvtav1", "yuv420p", 2, 30, 12


@dataclass(frozen=True)
class VideoFormat:
    """How frames are encoded: LeRobot's default (AV1, CRF 30, yuv420p) or, e.g., near-lossless
    ``VideoFormat("libx264", crf=0, pix_fmt="yuv444p")`` (max error 2 levels at 64 px; 4:2:0 halves the colour
    resolution, which costs a 64-px frame ~5 dB whatever the CRF)."""

    codec: str = CODEC
    crf: int = CRF
    pix_fmt: str = PIX_FMT

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 63:
            raise DataError(f"crf must be in 0..63 (0 = best quality), got {self.crf}")


def _av():
    try:
        import av
    except ImportError:
        raise DataError("LeRobot videos need PyAV: pip install 'jepaworld[lerobot-data]'") from None
    return av


def square_rgb(frame, reformatter, size: int) -> np.ndarray:
    """A decoded frame -> uint8 RGB (size, size, 3): scaled so its short side is ``size`` (area averaging when
    shrinking), then its centre square.

    One swscale call through one reformatter per video (``frame.reformat`` sets up a new swscale context for
    every frame). An unspecified colour range is the limited (MPEG) one, as FFmpeg takes it; saying so keeps
    swscale on its fast path. Measured at 224 px: H.264 ~100 -> ~440 frames/s, AV1 ~220 -> ~510."""
    w, h = frame.width, frame.height
    scale = size / min(w, h)
    W, H = max(size, round(w * scale)), max(size, round(h * scale))
    rgb = reformatter.reformat(frame, width=W, height=H, format="rgb24", src_color_range=frame.color_range or 1,
                               interpolation="AREA" if scale < 1 else "BILINEAR").to_ndarray()  # fmt: skip
    top, left = (H - size) // 2, (W - size) // 2
    return rgb[top : top + size, left : left + size]


def read_frames(path: Path, times: np.ndarray, fps: float, size: int, episode: int) -> np.ndarray:
    """The frames shown at ``times`` (seconds, ascending) in ``path`` -> uint8 (len(times), size, size, 3).

    ``episode`` names the episode in errors: a missing file, an undecodable packet, a frame that is
    not there (which frame, at what time).
    """
    av = _av()
    n = len(times)
    out = np.empty((n, size, size, 3), np.uint8)
    if not path.exists():
        raise DataError(f"episode {episode}: its video {path} is missing")
    tol = TOLERANCE / fps
    j = 0
    last = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"episode {episode}: {path} holds no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            reformatter = av.video.reformatter.VideoReformatter()
            if times[0] > tol:  # start at the key frame before the episode's first frame
                container.seek(int(max(times[0] - tol, 0) / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else frame.time
                last = t
                while j < n and times[j] < t - tol:
                    raise DataError(
                        f"episode {episode}, frame {j}: no video frame at t = {times[j]:.4f} s in {path} (the "
                        f"nearest is at {t:.4f} s); the video is damaged or does not match the episode index"
                    )
                if j < n and abs(t - times[j]) <= tol:
                    out[j] = square_rgb(frame, reformatter, size)
                    j += 1
                if j == n:
                    break
    except av.error.FFmpegError as e:
        raise DataError(f"episode {episode}, frame {j}: cannot decode {path} ({e}); the video is damaged") from None
    if j < n:
        ends = f"it ends at {last:.4f} s" if last is not None else "no frame could be decoded"
        raise DataError(
            f"episode {episode}, frame {j}: no video frame at t = {times[j]:.4f} s in {path} ({ends}); "
            "the video is truncated or damaged"
        )
    return out


class VideoWriter:
    """Frames into one MP4, episode after episode: ``write(frames)`` returns the first frame's time."""

    def __init__(self, path: Path, fps: int, size: int, fmt: VideoFormat = VideoFormat()) -> None:
        av = _av()
        codec = fmt.codec
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its settings to stderr unless told otherwise
        self.path, self.fps, self.frames = path, fps, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w")
        options = {"g": str(GOP), "crf": str(fmt.crf)} | ({"preset": str(PRESET)} if codec == "libsvtav1" else {})
        try:
            self._stream = self._container.add_stream(codec, rate=fps, options=options)
        except (ValueError, av.error.FFmpegError) as e:
            self._container.close()
            raise DataError(f"this PyAV cannot encode {codec} ({e}); pick another --codec (e.g. libx264)") from None
        self._stream.width = self._stream.height = size
        self._stream.pix_fmt = fmt.pix_fmt
        try:
            self._stream.codec_context.open()  # fail here, with a clear error, not on the first frame
        except (ValueError, av.error.FFmpegError) as e:
            self._container.close()
            raise DataError(f"{codec} cannot encode pix_fmt {fmt.pix_fmt} at crf {fmt.crf} ({e}); pick another "
                            "--pix-fmt (yuv420p works with every encoder)") from None  # fmt: skip

    def write(self, frames: np.ndarray) -> float:
        av = _av()
        start = self.frames / self.fps
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
            self.frames += 1
        return start

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
