"""The pure zlib/numpy PNG reader and writer: round trips, every filter type, bit depths, damaged files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehrsynth.errors import UnsupportedFileError
from ehrsynth.imaging.png import SIGNATURE, _chunk, decode_png, encode_png


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filtered_png(img: np.ndarray, filters: list[int], ctype: int, depth: int = 8) -> bytes:
    """Reference encoder applying the given PNG filter type to each row (the spec's formulas, byte by byte)."""
    h, w = img.shape[:2]
    rows = img.reshape(h, -1).astype(np.int64)
    if depth == 16:
        rows = np.stack([rows >> 8, rows & 0xFF], axis=2).reshape(h, -1)
    bpp = max(1, rows.shape[1] // w)
    raw = bytearray()
    prior = [0] * rows.shape[1]
    for y in range(h):
        line = [int(v) for v in rows[y]]
        kind = filters[y % len(filters)]
        out = []
        for i, x in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            out.append((x - pred) & 0xFF)
        raw += bytes([kind, *out])
        prior = line
    header = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw)))
        + _chunk(b"IEND", b"")
    )


images = st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3])).flatmap(
    lambda s: st.binary(min_size=s[0] * s[1] * s[2], max_size=s[0] * s[1] * s[2]).map(
        lambda b: (
            np.frombuffer(b, dtype=np.uint8).reshape(s[0], s[1], s[2]).squeeze(2)
            if s[2] == 1
            else np.frombuffer(b, dtype=np.uint8).reshape(s)
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(img=images)
def test_encode_decode_round_trip(img: np.ndarray) -> None:
    assert np.array_equal(decode_png(encode_png(img)), img)


@settings(max_examples=60, deadline=None)
@given(img=images, filters=st.lists(st.integers(0, 4), min_size=1, max_size=5))
def test_every_filter_type_decodes(img: np.ndarray, filters: list[int]) -> None:
    ctype = 0 if img.ndim == 2 else 2
    assert np.array_equal(decode_png(_filtered_png(img, filters, ctype)), img)


def test_sixteen_bit_keeps_high_byte() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 65536, size=(5, 7), dtype=np.int64)
    got = decode_png(_filtered_png(img, [0, 1, 2, 3, 4], ctype=0, depth=16))
    assert np.array_equal(got, (img >> 8).astype(np.uint8))


def test_matches_pillow_for_its_modes() -> None:
    pil = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, size=(11, 13, 3), dtype=np.uint8)
    base[:, 6:] = base[:, :1]  # flat areas make the encoder choose several filters
    for mode, want in (("L", "L"), ("RGB", "RGB"), ("RGBA", "RGB"), ("LA", "L"), ("P", "RGB"), ("1", "L")):
        im = pil.fromarray(base, "RGB").convert(mode)
        buf = io.BytesIO()
        im.save(buf, "PNG", optimize=True)
        assert np.array_equal(decode_png(buf.getvalue()), np.asarray(im.convert(want))), mode
    decoded = pil.open(io.BytesIO(encode_png(base)))
    assert np.array_equal(np.asarray(decoded), base)


def test_damaged_or_foreign_files_are_refused() -> None:
    good = encode_png(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(UnsupportedFileError, match="not a PNG"):
        decode_png(b"GIF89a" + good[6:])
    corrupt = bytearray(good)
    corrupt[40] ^= 0xFF  # inside IDAT: CRC no longer matches
    with pytest.raises(UnsupportedFileError, match="CRC"):
        decode_png(bytes(corrupt))
    with pytest.raises(UnsupportedFileError, match="truncated"):
        decode_png(good[:30])
    interlaced = SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 1)) + good[33:]
    with pytest.raises(UnsupportedFileError, match="interlaced"):
        decode_png(interlaced)
    with pytest.raises(UnsupportedFileError, match="uint8"):
        encode_png(np.zeros((4, 4), dtype=np.float32))
