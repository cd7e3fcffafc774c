"""Make samples/bikes.mp4 from the prepared corpus (`vsr-compress data prepare` first).

36 frames of the held-out bikes scene, centre crop 320x176, x264 CRF 16, plus a synthetic AAC tone.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def main(corpus: Path = Path("data/corpus"), out_path: Path = Path("samples/bikes.mp4")) -> None:
    frames = sorted((corpus / "video/val/bikes-04").glob("*.png"))[:36]
    with av.open(str(out_path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 176, "yuv420p"
        vs.codec_context.options = {"crf": "16"}
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i, f in enumerate(frames):
            arr = np.asarray(Image.open(f).convert("RGB"))
            y, x = (arr.shape[0] - 176) // 2, (arr.shape[1] - 320) // 2
            fr = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(arr[y : y + 176, x : x + 320]), format="rgb24"
            )
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
        n = int(48000 * len(frames) / 25)
        t = np.arange(n) / 48000
        tone = (0.1 * np.sin(2 * np.pi * 330 * t) * np.minimum(1, t * 4)).astype(np.float32)
        for k in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
            out.mux(a.encode(af))
        out.mux(a.encode(None))


if __name__ == "__main__":
    main(*(Path(p) for p in sys.argv[1:]))
