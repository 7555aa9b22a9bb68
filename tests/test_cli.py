"""The challenge's interfaces: eval.py's two lines, and one class per image."""

import subprocess
import sys

import numpy as np
from PIL import Image

from goodnet import model_io


def goodnet_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "goodnet", *map(str, args)], capture_output=True, text=True
    )


def test_predict_prints_one_class_per_image_like_the_model(tiny_run, tmp_path):
    from goodnet.data_io import H5Dataset

    data = H5Dataset(tiny_run / "data/demo/sunglasses_poisoned_test_data.h5")
    pixels = data.load_pixels()[:5]
    paths = []
    for i, img in enumerate(pixels):
        path = tmp_path / f"face{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(img).save(path, quality=100)
        paths.append(path)
    out = goodnet_cli("predict", tiny_run / "results/G1", *paths)
    assert out.returncode == 0, out.stderr
    classes = [int(line) for line in out.stdout.split()]
    g = model_io.load(tiny_run / "results/G1/model.keras")
    # Re-read the files: jpeg is lossy, the CLI must see what is on disk.
    disk = (
        np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths]) / 255
    )
    assert classes == list(g(disk).numpy().argmax(-1))
    assert all(0 <= c <= 6 for c in classes)


def test_eval_on_a_plain_model_file(tiny_run):
    out = goodnet_cli(
        "eval",
        tiny_run / "data/demo/clean_test_data.h5",
        tiny_run / "data/demo/sunglasses_poisoned_test_data.h5",
        tiny_run / "models/demo/B1.keras",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Clean Classification accuracy: ")
    assert lines[1].startswith("Attack Success Rate: ")
    assert len(lines) == 2  # no flag lines for a plain BadNet
