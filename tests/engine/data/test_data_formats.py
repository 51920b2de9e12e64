"""open_rgb / decode_image_bytes: RGB conversion, resizing, and refusing bad files."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_engine.data.formats import (
    ImageDecodeError,
    decode_image_bytes,
    is_image_name,
    load_square,
    open_rgb,
)
from tests.engine.data.image_files import png_header_only, write_image, write_truncated


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1", "CMYK"])
def test_any_mode_opens_as_rgb(tmp_path: Path, mode: str) -> None:
    suffix = ".jpg" if mode == "CMYK" else ".png"
    image = open_rgb(write_image(tmp_path / f"x{suffix}", 9, 7, mode))
    assert image.mode == "RGB"
    assert image.size == (9, 7)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    pixels = np.asarray(open_rgb(write_image(tmp_path / "g.png", mode="L")))  # (H, W, 3)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)  # black, fully transparent
    rgba[0, 0] = (10, 20, 30, 255)  # one opaque pixel
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    pixels = np.asarray(open_rgb(tmp_path / "t.png"))
    assert tuple(pixels[0, 0]) == (10, 20, 30)
    assert (pixels[1:] == 255).all()


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = np.full((4, 4), 32768, dtype=np.uint16)  # half of the 16-bit range
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    assert (np.asarray(open_rgb(tmp_path / "deep.png")) == 128).all()


def test_truncated_file_raises_decode_error(tmp_path: Path) -> None:
    for suffix in (".png", ".jpg", ".bmp"):
        with pytest.raises(ImageDecodeError):
            open_rgb(write_truncated(tmp_path / f"cut{suffix}"))


def test_non_image_bytes_raise_decode_error(tmp_path: Path) -> None:
    (tmp_path / "fake.jpg").write_text("not an image")
    with pytest.raises(ImageDecodeError, match="cannot open"):
        open_rgb(tmp_path / "fake.jpg")
    with pytest.raises(ImageDecodeError):
        decode_image_bytes(b"\x00\x01garbage", 8)


def test_pixel_limit_refuses_large_images(tmp_path: Path) -> None:
    path = write_image(tmp_path / "big.png", 40, 30)
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        open_rgb(path, max_pixels=40 * 30 - 1)
    assert open_rgb(path, max_pixels=40 * 30).size == (40, 30)


def test_pillow_decompression_bomb_error_becomes_decode_error() -> None:
    bomb = png_header_only(100_000, 100_000)  # 10^10 pixels: Pillow raises on open
    with pytest.raises(ImageDecodeError):
        decode_image_bytes(bomb, 8)


def test_pillow_decompression_bomb_warning_becomes_decode_error() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int((1.5 * Image.MAX_IMAGE_PIXELS) ** 0.5)  # between Pillow's warning and error
    bomb = png_header_only(side, side)
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageDecodeError):
        decode_image_bytes(bomb, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageDecodeError):
            decode_image_bytes(bomb, 8)


def test_decode_resizes_shorter_side_and_centre_crops() -> None:
    stripes = np.zeros((32, 64, 3), dtype=np.uint8)  # H=32, W=64
    stripes[:, 8:56] = (0, 255, 0)  # green around the centre 32 x 32 crop
    stripes[:, :8] = (255, 0, 0)  # red and blue edges, 8 px clear of the crop so the
    stripes[:, 56:] = (0, 0, 255)  # antialiasing filter does not reach them
    buffer = io.BytesIO()
    Image.fromarray(stripes).save(buffer, format="PNG")
    decoded = decode_image_bytes(buffer.getvalue(), 16)
    assert decoded.shape == (3, 16, 16) and decoded.dtype == torch.float32
    expected = torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1).expand(3, 16, 16)
    torch.testing.assert_close(decoded, expected, atol=1e-6, rtol=0)


def test_decode_bytes_equals_decoding_the_file(tmp_path: Path) -> None:
    path = write_image(tmp_path / "x.jpg", 50, 37)
    from_bytes = decode_image_bytes(path.read_bytes(), 20)
    from_file = torch.from_numpy(load_square(path, 20).copy()).float() / 255
    assert torch.equal(from_bytes, from_file)
    assert from_bytes.min() >= 0 and from_bytes.max() <= 1


def test_extensions_are_case_insensitive() -> None:
    assert all(is_image_name(n) for n in ("a.JPG", "b.jpeg", "c.Png", "d.webp", "e.bmp"))
    assert not any(is_image_name(n) for n in ("a.gif", "b.txt", "jpg", "c.tiff"))
