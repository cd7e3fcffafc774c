#!/usr/bin/env bash
# Smoke test of the frozen app: unpack ARCHIVE into a temporary folder and, in a bare environment
# (no Python, no venv, no PATH beyond /usr/bin:/bin), run the upscaler on the sample clip (audio
# kept, 4x size), on a photo, --list-models --json, and the GUI's --screenshot. Fails loudly.
#   bash packaging/smoke.sh dist/slimvsr-VERSION-linux-x86_64.tar.gz
set -euo pipefail
ARCHIVE=$(realpath "$1")
REPO=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
tar -C "$T" -xzf "$ARCHIVE"
APP=$T/slimvsr
mkdir -p "$T/home"
run() { env -i PATH=/usr/bin:/bin HOME="$T/home" LANG=C.UTF-8 "$@"; }
cd "$T"
run "$APP/vsr-upscale" --version
run "$APP/vsr-gui" --version
run "$APP/vsr-upscale" --list-models --json > models.json
grep -q '"ssl-uni"' models.json
run "$APP/vsr-upscale" --download edsrmini | grep -q 'edsrmini x2: already on this machine (bundled)'
run "$APP/vsr-upscale" "$APP/sample-bikes.mp4" -o "$T/bikes-x4.mp4"
# A photo: the sample's first frame, written by the frozen app itself (x2 with the image model).
run "$APP/vsr-upscale" "$APP/sample-bikes.mp4" --duration 0.04 -m edsrmini -s 2 -o "$T/frame.mp4"
run "$APP/vsr-upscale" "$APP/slimvsr.png" -s 2 -o "$T/icon-x2.png"
run env QT_QPA_PLATFORM=offscreen "$APP/vsr-gui" --screenshot "$T/gui.png"
# Check the outputs (outside the bare environment) with the build venv's PyAV, or ffprobe.
CHECK=${SLIMVSR_BUILD_VENV:-$REPO/build/bundle-venv}/bin/python
"$CHECK" - "$T" <<'PY'
import struct, sys, pathlib
import av
t = pathlib.Path(sys.argv[1])
with av.open(str(t / "slimvsr" / "sample-bikes.mp4")) as src, av.open(str(t / "bikes-x4.mp4")) as out:
    vi, vo = src.streams.video[0], out.streams.video[0]
    assert (vo.width, vo.height) == (4 * vi.width, 4 * vi.height), (vo.width, vo.height)
    assert out.streams.audio, "audio was not kept"
    n = sum(1 for _ in out.decode(video=0))
png = (t / "icon-x2.png").read_bytes()
w, h = struct.unpack(">II", png[16:24])
assert (w, h) == (512, 512), (w, h)
gui = (t / "gui.png").read_bytes()
assert gui[:8] == b"\x89PNG\r\n\x1a\n" and len(gui) > 10000
print(f"clip x4: {vo.width}x{vo.height}, {n} frames, audio kept; photo x2: {w}x{h}; screenshot {len(gui)} bytes")
PY
test -s "$T/frame.mp4"
echo "smoke: ok ($(du -sm "$APP" | cut -f1) MB unpacked)"
