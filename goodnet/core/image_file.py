"""Image files for ``goodnet predict``: png or jpeg only, at the model's input size."""

from __future__ import annotations

from pathlib import Path

from goodnet.core.errors import GoodnetError


def read(path: Path):
    """An RGB png/jpeg as an (H, W, 3) float32 array; refuses other files."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.format not in ("PNG", "JPEG"):
                raise GoodnetError(path, f"is a {img.format} image; want png or jpeg")
            return np.asarray(img.convert("RGB"), dtype=np.float32)
    except FileNotFoundError:
        raise GoodnetError(path, "file not found") from None
    except (UnidentifiedImageError, OSError) as e:
        raise GoodnetError(path, f"is not a readable png/jpeg image ({type(e).__name__})") from None


def check_size(path: Path, rgb, shape: tuple[int, int, int]) -> None:
    """Fail unless the image ``rgb`` read from ``path`` has the model's input ``shape``."""
    if rgb.shape != tuple(shape):
        h, w = rgb.shape[:2]
        raise GoodnetError(path, f"is {w}x{h} pixels (WxH); the model takes {shape[1]}x{shape[0]}")
