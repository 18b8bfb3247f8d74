"""A small PNG reader and writer on zlib + numpy (no Pillow needed for PNG).

Reads non-interlaced PNGs of every colour type (grayscale, RGB, palette, with or without alpha) at bit depths
1–16; the result is ``uint8`` ``(H, W)`` for grayscale or ``(H, W, 3)`` for colour (alpha is dropped, 16-bit
samples keep their high byte, palettes are expanded to RGB). Writes 8-bit grayscale or RGB (filter type 0).
Chunk CRCs are checked; anything else raises :class:`~ehrsynth.errors.UnsupportedFileError`.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ehrsynth.errors import UnsupportedFileError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type → samples per pixel
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def is_png(data: bytes) -> bool:
    return data[:8] == SIGNATURE


def _chunks(data: bytes, where: str) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise UnsupportedFileError(f"{where}: truncated PNG chunk header; the file is damaged")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc_bytes = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise UnsupportedFileError(f"{where}: truncated PNG chunk {kind!r}; the file is damaged")
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", crc_bytes)[0]:
            raise UnsupportedFileError(
                f"{where}: PNG chunk {kind!r} fails its CRC check; the file is damaged"
            )
        out.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    return out


def _paeth_row(raw: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    out = bytearray(raw.tobytes())
    up = prior.tobytes()
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (out[i] + pred) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _average_row(raw: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    out = bytearray(raw.tobytes())
    up = prior.tobytes()
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        out[i] = (out[i] + ((a + up[i]) >> 1)) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _sub_row(raw: np.ndarray, bpp: int) -> np.ndarray:
    lanes = raw.reshape(-1, bpp) if raw.size % bpp == 0 else None
    if lanes is None:  # cannot happen for valid PNGs (row bytes are a multiple of bpp when bpp > 1)
        lanes = raw.reshape(-1, 1)
    return np.cumsum(lanes, axis=0, dtype=np.uint8).reshape(-1)


def _unfilter(data: bytes, height: int, row_bytes: int, bpp: int, where: str) -> np.ndarray:
    if len(data) < height * (row_bytes + 1):
        raise UnsupportedFileError(f"{where}: PNG image data is shorter than its header says; file damaged")
    rows = np.frombuffer(data, dtype=np.uint8, count=height * (row_bytes + 1)).reshape(height, row_bytes + 1)
    out = np.zeros((height, row_bytes), dtype=np.uint8)
    prior = np.zeros(row_bytes, dtype=np.uint8)
    for y in range(height):
        kind, raw = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:
            line = raw
        elif kind == 1:
            line = _sub_row(raw, bpp)
        elif kind == 2:
            line = raw + prior  # uint8 arithmetic wraps modulo 256, as PNG specifies
        elif kind == 3:
            line = _average_row(raw, prior, bpp)
        elif kind == 4:
            line = _paeth_row(raw, prior, bpp)
        else:
            raise UnsupportedFileError(f"{where}: unknown PNG filter type {kind} in row {y}; file damaged")
        out[y] = line
        prior = out[y]
    return out


def _samples(rows: np.ndarray, width: int, depth: int, channels: int) -> np.ndarray:
    """Scanline bytes → (H, W, channels) integer samples at the file's bit depth."""
    height = rows.shape[0]
    if depth == 16:
        wide = rows.reshape(height, -1, 2)
        return ((wide[..., 0].astype(np.uint16) << 8) | wide[..., 1]).reshape(height, width, channels)
    if depth == 8:
        return rows.reshape(height, width, channels)
    bits = np.unpackbits(rows, axis=1)
    per = bits.reshape(height, -1, depth)[:, :width, :]
    weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
    return (per * weights).sum(axis=2, dtype=np.uint8)[..., None]


def decode_png(data: bytes, where: str = "PNG") -> np.ndarray:
    """PNG bytes → uint8 ``(H, W)`` (grayscale) or ``(H, W, 3)`` (colour)."""
    if not is_png(data):
        raise UnsupportedFileError(f"{where}: not a PNG file (wrong signature)")
    chunks = _chunks(data, where)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise UnsupportedFileError(f"{where}: PNG without a valid IHDR header chunk; the file is damaged")
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if ctype not in _CHANNELS or depth not in _DEPTHS[ctype] or comp != 0 or filt != 0:
        raise UnsupportedFileError(
            f"{where}: PNG colour type {ctype} with bit depth {depth} is not valid PNG; the file is damaged"
        )
    if interlace != 0:
        raise UnsupportedFileError(
            f"{where}: interlaced (Adam7) PNGs are not supported; re-save the image without interlacing"
        )
    if width == 0 or height == 0:
        raise UnsupportedFileError(f"{where}: PNG of size {width}x{height} holds no pixels")
    channels = _CHANNELS[ctype]
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    try:
        raw = zlib.decompress(idat)
    except zlib.error as exc:
        raise UnsupportedFileError(f"{where}: PNG image data cannot be decompressed ({exc})") from exc
    bits_per_pixel = depth * channels
    rows = _unfilter(raw, height, (width * bits_per_pixel + 7) // 8, max(1, bits_per_pixel // 8), where)
    samples = _samples(rows, width, depth, channels)
    if ctype == 3:
        palette = next((body for kind, body in chunks if kind == b"PLTE"), None)
        if palette is None or len(palette) % 3:
            raise UnsupportedFileError(
                f"{where}: palette PNG without a valid PLTE chunk; the file is damaged"
            )
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        index = samples[..., 0]
        if int(index.max()) >= len(table):
            raise UnsupportedFileError(f"{where}: PNG pixel refers past the end of its palette; damaged")
        return table[index]
    if depth == 16:
        samples = (samples >> 8).astype(np.uint8)
    elif depth < 8:
        samples = (samples.astype(np.uint16) * 255 // ((1 << depth) - 1)).astype(np.uint8)
    if ctype in (0, 4):
        return np.ascontiguousarray(samples[..., 0])
    return np.ascontiguousarray(samples[..., :3])


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    p = Path(path)
    return decode_png(p.read_bytes(), str(p))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def encode_png(image: np.ndarray) -> bytes:
    """uint8 ``(H, W)`` / ``(H, W, 1)`` grayscale or ``(H, W, 3)`` RGB → PNG bytes."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise UnsupportedFileError(
            f"can write uint8 (H, W) or (H, W, 3) images as PNG, found {img.dtype} {img.shape}"
        )
    height, width = img.shape[:2]
    ctype = 0 if img.ndim == 2 else 2
    rows = np.ascontiguousarray(img).reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, ctype, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
