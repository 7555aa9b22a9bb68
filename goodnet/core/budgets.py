"""The most an untrusted file or config may *claim* before goodnet reads, unpacks or
allocates it: one place for every budget and its default.

A hostile file can be small and declare a lot: a kernel of 3.7 GiB stored as a few MB of
compressed zeros, a data set of 10^8 images that stores none, a config whose YAML aliases
expand to billions of values. goodnet compares what the bytes claim with these budgets
first, and refuses with one line. Each default is far above what a real study needs (the
CSAW-HackML-2020 files: 12 830 images of 55x47x3 in float64, DeepID weights of 2.4 MB
with 1283 classes; a config of a few dozen values) and far below what would hurt a
machine. The model budget is the one a user may need to raise (a larger architecture):
``GOODNET_MAX_MODEL_BYTES`` (e.g. ``4G``); docs/RELIABILITY.md lists them all.
"""

from __future__ import annotations

import os

from goodnet.core.errors import GoodnetError

MiB = 1024**2
GiB = 1024**3

# -- model files ---------------------------------------------------------------------------
# The weights a model file declares, the weights its architecture needs, and the unpacked
# size of a .keras archive's members: each at most this (DeepID with 1283 classes: 2.4 MB).
MODEL_BYTES_VARIABLE = "GOODNET_MAX_MODEL_BYTES"
MODEL_BYTES = 1 * GiB
# A model's architecture config (config.json, or an h5's model_config): DeepID's is 12 KB.
CONFIG_JSON_BYTES = 16 * MiB
# Nesting of an architecture config: DeepID's is 10 deep, a model three sub-models deep
# about 30; Python's own parser gives up near 1000.
CONFIG_DEPTH = 200
# Members of a .keras archive: Keras writes three (config, metadata, weights), plus assets.
ZIP_MEMBERS = 1000

# -- h5 datasets (data files and weights) --------------------------------------------------
# A compressed dataset may declare at most this many times the bytes it stores (Keras' own
# ratio; deflate itself cannot pass about 1032), once it declares more than the floor.
H5_EXPANSION = 1000
H5_EXPANSION_FLOOR = 64 * MiB

# -- workflow configs ----------------------------------------------------------------------
CONFIG_FILE_BYTES = 1 * MiB  # a config file (the shipped ones are 2 to 4 KB)
CONFIG_VALUES = 100_000  # values in a config, a YAML alias counted each time it is used
CONFIG_NESTING = 32  # mappings and lists inside one another (the schema's deepest is 5)
CONFIG_STRING_CHARS = 4096  # one text value: a path, a name (PATH_MAX is 4096)
QUOTE_CHARS = 60  # an error message quotes at most this much of a value


def model_bytes() -> int:
    """The model budget: ``GOODNET_MAX_MODEL_BYTES`` if set, else MODEL_BYTES."""
    return bytes_from_env(MODEL_BYTES_VARIABLE) or MODEL_BYTES


_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024**4}


def bytes_from_env(variable: str) -> int | None:
    """The byte count in environment variable ``variable`` (``8G``, ``512M``, ``1.5GiB``,
    ``1000000``), None when unset; one line naming the variable when it is not a size."""
    raw = os.environ.get(variable, "")
    text = raw.strip().upper().removesuffix("B").removesuffix("I")
    if not text:
        return None
    unit = text[-1] if text[-1] in _UNITS else ""
    try:
        value = float(text[: len(text) - len(unit)])
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise GoodnetError(variable, f"is {raw[:QUOTE_CHARS]!r}; want bytes, e.g. 8G or 512M")
    return int(value * _UNITS[unit])


def size(n: int) -> str:
    """'420 GiB', '2.5 GiB', '6.0 MiB', '980 bytes'."""
    if n >= GiB:
        value = n / GiB
        return f"{value:.0f} GiB" if value >= 10 else f"{value:.1f} GiB"
    if n >= MiB // 10:
        return f"{n / MiB:.1f} MiB"
    return f"{n} bytes"
