"""Photos: what a photo carries besides its pixels, kept through the upscale (Pillow).

* EXIF orientation is applied to the upscaled pixels and the tag reset to 1, so every viewer shows
  the output as the input is shown (a phone's Orientation=6 portrait stays portrait).
* Transparency is kept: the alpha channel is upscaled bicubic (the models are trained on RGB),
  for RGBA, LA and palette images with transparency. JPEG cannot hold alpha: the image is then
  flattened onto white, and the job says so.
* Grey stays grey (L in, L out); palette images come out as RGB(A), since an upscaled image has
  more colours than a palette.
* EXIF (orientation reset), the ICC profile and XMP are copied where the output format holds them;
  the EXIF Software tag (PNG: a Software text chunk) marks the file as slimvsr's, so that a batch
  run again over its own folder does not upscale its outputs.
* JPEG/WebP quality: ``quality`` when given, else the input JPEG's estimated quality (from its
  quantisation tables), else 95. PNG and TIFF are lossless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__

log = logging.getLogger(__name__)

MARKER = "slimvsr"
SOFTWARE = 0x0131
ORIENTATION = 0x0112
DEFAULT_QUALITY = 95
# Tags that describe how a TIFF stores its pixels (Pillow's getexif() of a TIFF is its first IFD):
# width, height, bits, compression, photometric, strips, samples, planar, predictor, tiles, ...
_TIFF_LAYOUT = {
    256,
    257,
    258,
    259,
    262,
    273,
    277,
    278,
    279,
    284,
    317,
    320,
    322,
    323,
    324,
    325,
    338,
    339,
    530,
    531,
    532,
}

# The IJG standard luminance table (natural order), scaled by libjpeg's quality formula.
_STD_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip


@dataclass(frozen=True)
class PhotoMeta:
    """What write_photo needs from the input besides the upscaled RGB."""

    orientation: int = 1
    alpha: np.ndarray | None = None  # (H, W) uint8 at the input's size, as stored (not oriented)
    grey: bool = False
    exif: bytes | None = None  # orientation reset, Software set
    icc: bytes | None = None
    xmp: bytes | None = None
    jpeg_quality: int | None = None  # estimated from the input's tables, when it is a JPEG
    own_output: bool = False  # the input carries slimvsr's marker


def estimate_jpeg_quality(tables: dict[int, list[int]] | None) -> int | None:
    """The libjpeg quality (1-100) whose scaled standard luminance table is nearest the file's."""
    if not tables or 0 not in tables:
        return None
    t = np.asarray(tables[0], dtype=np.float64)
    if t.size != 64:
        return None
    best, err = None, float("inf")
    for q in range(1, 101):
        scale = 5000 / q if q < 50 else 200 - 2 * q
        ref = np.clip(np.floor((_STD_LUMA * scale + 50) / 100), 1, 255)
        # Pillow reports tables in natural order; sort both so zigzag order would match too.
        e = min(np.abs(ref - t).sum(), np.abs(np.sort(ref) - np.sort(t)).sum())
        if e < err:
            best, err = q, e
    return best


def _software(exif) -> str:
    value = exif.get(SOFTWARE)
    return value if isinstance(value, str) else ""


def read_photo_meta(path: Path) -> PhotoMeta:
    """The metadata and alpha of ``path``; an empty PhotoMeta where Pillow cannot read it (the
    pixels come through PyAV either way). Pillow's warnings about damaged tags are no concern of
    the user's: none is printed."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_photo_meta(path)


def _read_photo_meta(path: Path) -> PhotoMeta:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            orientation = int(exif.get(ORIENTATION, 1) or 1)
            own = _software(exif).startswith(MARKER) or str(im.info.get("Software", "")).startswith(MARKER)
            alpha = None
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                alpha = np.asarray(im.convert("RGBA").getchannel("A"))
            elif im.mode == "La":
                alpha = np.asarray(im.getchannel("A"))
            grey = im.mode in ("L", "LA", "La", "I;16", "I;16B", "I;16L", "1")
            for tag in _TIFF_LAYOUT & set(exif):  # a TIFF's own IFD: its layout, not the output's
                del exif[tag]
            exif[ORIENTATION] = 1
            exif[SOFTWARE] = f"{MARKER} {__version__}"
            xmp = im.info.get("xmp")
            return PhotoMeta(
                orientation if 1 <= orientation <= 8 else 1,
                alpha,
                grey,
                exif.tobytes(),
                im.info.get("icc_profile"),
                xmp.encode() if isinstance(xmp, str) else xmp,
                estimate_jpeg_quality(getattr(im, "quantization", None)) if im.format == "JPEG" else None,
                own,
            )
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        log.debug("%s: no photo metadata (%s)", path, e)
        return PhotoMeta()


def is_own_output(path: Path) -> bool:
    """Whether an image file carries slimvsr's marker (EXIF Software or PNG text)."""
    return read_photo_meta(path).own_output


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """``a`` (H, W, ...) as EXIF ``orientation`` says to display it (Pillow's exif_transpose)."""
    t = a.swapaxes(0, 1)
    return {
        1: a,
        2: a[:, ::-1],
        3: a[::-1, ::-1],
        4: a[::-1],
        5: t,
        6: t[:, ::-1],
        7: t[::-1, ::-1],
        8: t[::-1],
    }[orientation]


def write_photo(
    path: Path, rgb: np.ndarray, fmt: str, meta: PhotoMeta, quality: int | None = None
) -> str | None:
    """Write 8-bit ``rgb`` (H, W, 3) as ``fmt`` ("png", "jpeg", "webp", "tiff") to ``path`` with
    ``meta`` applied; returns a note for the user (alpha flattened into a JPEG), else None."""
    from PIL import Image, PngImagePlugin

    note = None
    img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if meta.grey:
        img = img.convert("L")
    if meta.alpha is not None:
        a = Image.fromarray(meta.alpha, "L").resize(img.size, Image.Resampling.BICUBIC)
        if fmt == "jpeg":
            white = Image.new(img.mode, img.size, 255 if img.mode == "L" else (255, 255, 255))
            img = Image.composite(img, white, a)
            note = "JPEG has no transparency: flattened onto white (write .png or .webp to keep it)"
        else:
            img.putalpha(a)
    if meta.orientation != 1:
        img = Image.fromarray(np.ascontiguousarray(orient(np.asarray(img), meta.orientation)), img.mode)
    kw: dict = {}
    if meta.icc:
        kw["icc_profile"] = meta.icc
    if fmt in ("jpeg", "webp"):
        q = quality or meta.jpeg_quality or DEFAULT_QUALITY
        kw["quality"] = q
        if fmt == "jpeg":
            kw["subsampling"] = 0 if q >= 90 else 2  # 4:4:4 at high quality, as the input likely was
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", f"{MARKER} {__version__}")
        if meta.xmp:
            info.add_itxt("XML:com.adobe.xmp", meta.xmp.decode("utf-8", "replace"))
        kw["pnginfo"] = info
        kw["compress_level"] = 6
    elif meta.xmp:
        kw["xmp"] = meta.xmp
    if fmt == "tiff":
        kw["compression"] = "tiff_deflate"
    exif = meta.exif
    if exif is None:
        ex = Image.Exif()
        ex[SOFTWARE] = f"{MARKER} {__version__}"
        exif = ex.tobytes()
    kw["exif"] = exif
    img.save(path, format=fmt.upper(), **kw)
    return note
