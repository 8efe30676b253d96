"""The Windows .ico and macOS .icns the spec writes are icons Qt's own readers decode.

Qt ships readers for both formats (the qico and qicns image plugins), independent of the
writer here, so a wrong header, offset or length shows up as an unreadable or wrong image.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import QApplication

from tests.bundle.layout import ICONS


def _decoded(path: Path) -> list[QImage]:
    reader = QImageReader(str(path))
    assert reader.canRead(), f"Qt cannot read {path}: {reader.errorString()}"
    images = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), f"image {index} of {path}: {reader.errorString()}"
        images.append(image)
    return images


def _same_pixels(image: QImage, size: int) -> bool:
    source = QImage(str(ICONS / f"realtime-desktop-{size}.png"))
    fmt = QImage.Format.Format_ARGB32
    return image.convertToFormat(fmt) == source.convertToFormat(fmt)


def test_ico_holds_every_windows_size(
    qapp: QApplication, icon_files: ModuleType, tmp_path: Path
) -> None:
    ico = icon_files.write_ico(ICONS, tmp_path / "app.ico")
    images = _decoded(ico)
    assert [image.width() for image in images] == list(icon_files.ICO_SIZES)
    for image in images:
        assert image.height() == image.width()
        assert _same_pixels(image, image.width())


def test_icns_holds_every_type(qapp: QApplication, icon_files: ModuleType, tmp_path: Path) -> None:
    icns = icon_files.write_icns(ICONS, tmp_path / "app.icns")
    images = _decoded(icns)
    assert [image.width() for image in images] == list(icon_files.ICNS_TYPES.values())
    for image in images:
        assert _same_pixels(image, image.width())


def test_a_png_of_the_wrong_size_is_refused(icon_files: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "realtime-desktop-32.png").write_bytes(
        (ICONS / "realtime-desktop-16.png").read_bytes()
    )
    with pytest.raises(ValueError, match=r"\(16, 16\), not 32x32"):
        icon_files.icon_pngs(tmp_path, [32])


def test_only_pngs_are_accepted(icon_files: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        icon_files.png_size((ICONS / "realtime-desktop.svg").read_bytes())


def test_ico_cannot_hold_more_than_256_px(icon_files: ModuleType) -> None:
    png = (ICONS / "realtime-desktop-512.png").read_bytes()
    with pytest.raises(ValueError, match="1 to 256 px"):
        icon_files.ico_bytes({512: png})
