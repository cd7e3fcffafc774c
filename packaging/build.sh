#!/usr/bin/env bash
# Build the download-and-run desktop bundle on a fresh clone:
#   bash packaging/build.sh   ->  dist/slimvsr-VERSION-linux-x86_64.tar.gz (+ .sizes.txt)
# Its own build venv (pinned CPU torch first, then the project with the gui and package extras,
# nothing else: a venv with triton or onnxruntime doubles the bundle), PyInstaller from
# packaging/slimvsr.spec (onedir), then trimming of what the product never loads (trim.py), a
# size report of the top 20 contributors, and the archive. Prints the archive's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
BV=${SLIMVSR_BUILD_VENV:-build/bundle-venv}
pipq() { "$BV/bin/pip" install -q --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2); }
t0=$(date +%s)
if [ ! -x "$BV/bin/pyinstaller" ]; then
  python3 -m venv "$BV"
  pipq torch==2.13.0
  pipq '.[gui,package]'
fi
pipq --no-deps --force-reinstall .  # this checkout, not an earlier one
VERSION=$("$BV/bin/python" -c "import slimvsr; print(slimvsr.__version__)")
"$BV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath build/pyi-dist --workpath build/pyi-work packaging/slimvsr.spec
APP=build/pyi-dist/slimvsr
"$BV/bin/python" packaging/trim.py "$APP"
cp src/slimvsr/samples/bikes.mp4 "$APP/sample-bikes.mp4"
cp src/slimvsr/assets/slimvsr.png src/slimvsr/assets/slimvsr.desktop "$APP/"
cp packaging/README-bundle.txt "$APP/README.txt"
mkdir -p dist
ARCHIVE=dist/slimvsr-$VERSION-linux-x86_64.tar.gz
tar -C build/pyi-dist -czf "$ARCHIVE.part" slimvsr && mv "$ARCHIVE.part" "$ARCHIVE"
{
  echo "slimvsr $VERSION bundle, built $(date -u +%Y-%m-%dT%H:%MZ) in $(( $(date +%s) - t0 )) s"
  echo "unpacked: $(du -sm "$APP" | cut -f1) MB; archive: $(du -m "$ARCHIVE" | cut -f1) MB"
  echo "top 20 contributors (MB):"
  # awk reads to the end (a head here would end the pipeline early: SIGPIPE under pipefail)
  (cd "$APP" && du -am . | sort -rn | awk '$2 != "." && n < 20 { print; n++ }')
} > "$ARCHIVE.sizes.txt"
cat "$ARCHIVE.sizes.txt" >&2
echo "$ARCHIVE"
