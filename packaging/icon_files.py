"""Windows ``.ico`` and macOS ``.icns`` icons, made from the PNGs in ``resources/icons``.

PyInstaller converts PNGs itself only when Pillow is installed, which the app does not need.
Both formats can hold PNG images directly (Windows Vista and later, macOS 10.7 and later), so
writing them is a matter of headers: the PNGs are copied byte for byte and stay the one source.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
"""What Windows picks from at its usual scales; ICO cannot hold images larger than 256 px."""

ICNS_TYPES: Mapping[str, int] = {
    # OSType -> pixel size of the PNG it holds (the @2x types reuse the larger PNG).
    "icp4": 16,
    "icp5": 32,
    "icp6": 64,
    "ic07": 128,
    "ic08": 256,
    "ic09": 512,
    "ic11": 32,  # 16 pt @2x
    "ic12": 64,  # 32 pt @2x
    "ic13": 256,  # 128 pt @2x
    "ic14": 512,  # 256 pt @2x
}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk.

    Raises:
        ValueError: if ``data`` is not a PNG.
    """
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def icon_pngs(icons_dir: Path, sizes: tuple[int, ...] | list[int]) -> dict[int, bytes]:
    """The square PNGs ``realtime-desktop-<size>.png`` for ``sizes``, checked to be that size.

    Raises:
        FileNotFoundError: a size is missing.
        ValueError: a file is not a square PNG of the size its name says.
    """
    pngs: dict[int, bytes] = {}
    for size in sorted(set(sizes)):
        path = icons_dir / f"realtime-desktop-{size}.png"
        data = path.read_bytes()
        if png_size(data) != (size, size):
            raise ValueError(f"{path} is {png_size(data)}, not {size}x{size}")
        pngs[size] = data
    return pngs


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """An ICO file holding each PNG (size in pixels -> PNG data), smallest first."""
    sizes = sorted(pngs)
    if not sizes or sizes[-1] > 256:
        raise ValueError("an ICO holds 1 to 256 px images")
    header = struct.pack("<HHH", 0, 1, len(sizes))  # reserved, type 1 = icon, image count
    offset = len(header) + 16 * len(sizes)
    entries = b""
    for size in sizes:
        data = pngs[size]
        # Width and height are one byte each; 0 means 256.
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + entries + b"".join(pngs[size] for size in sizes)


def icns_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """An ICNS file with every type of ``ICNS_TYPES`` whose size is in ``pngs``."""
    body = b""
    for ostype, size in ICNS_TYPES.items():
        if size in pngs:
            body += ostype.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    if not body:
        raise ValueError("no PNG of an ICNS size")
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_ico(icons_dir: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(ico_bytes(icon_pngs(icons_dir, ICO_SIZES)))
    return destination


def write_icns(icons_dir: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(icns_bytes(icon_pngs(icons_dir, sorted(set(ICNS_TYPES.values())))))
    return destination
