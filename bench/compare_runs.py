"""Compare the outputs of two workflow runs, file by file: ``python bench/compare_runs.py
RUN_A RUN_B`` (two project folders after a run). Every file under results/, data/ and
models/ must be byte-identical, except .keras models, which Keras stamps with the save
date and the ids of shared objects: those must hold the same member files, the same
config (shared_object_id renumbered in order) and bit-identical weights. Prints one line
per difference and a count; exit status 1 when anything differs."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np

FOLDERS = ("results", "data", "models")


def keras_content(path: Path):
    """A .keras file's member names, normalised config and weight arrays."""
    z = zipfile.ZipFile(path)
    ids: dict[bytes, int] = {}
    config = re.sub(
        rb'"shared_object_id": (\d+)',
        lambda m: b'"shared_object_id": %d' % ids.setdefault(m.group(1), len(ids)),
        z.read("config.json"),
    )
    weights: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        f.visititems(
            lambda k, v: weights.update({k: v[()]}) if isinstance(v, h5py.Dataset) else None
        )
    return sorted(z.namelist()), config, weights


def same(a: Path, b: Path) -> bool:
    if a.suffix != ".keras":
        return a.read_bytes() == b.read_bytes()
    (na, ca, wa), (nb, cb, wb) = keras_content(a), keras_content(b)
    return (
        na == nb
        and ca == cb
        and wa.keys() == wb.keys()
        and all(wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]) for k in wa)
    )


def files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for d in FOLDERS
        if (root / d).is_dir()
        for p in (root / d).rglob("*")
        if p.is_file()
    }


def main(a: str, b: str) -> int:
    ra, rb = Path(a), Path(b)
    fa, fb = files(ra), files(rb)
    wrong = [f"only in {a}: {f}" for f in sorted(fa - fb)] + [
        f"only in {b}: {f}" for f in sorted(fb - fa)
    ]
    wrong += [f"differs: {f}" for f in sorted(fa & fb) if not same(ra / f, rb / f)]
    print("\n".join(wrong + [f"{len(fa & fb)} files compared, {len(wrong)} differences"]))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
