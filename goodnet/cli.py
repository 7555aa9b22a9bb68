"""The ``goodnet`` command: the challenge's eval.py and submission interface.

  goodnet eval CLEAN.h5 POISONED.h5 MODEL     clean accuracy and attack success rate
  goodnet predict MODEL IMAGE...              one class in [0, N] per png/jpeg image
  goodnet detect MODEL VALID.h5 TEST.h5 --out DIR
                                              find a backdoor without poisoned data
  goodnet results [FOLDER]                    a finished run's table, verdicts and files
  goodnet check CONFIG                        a workflow config, checked without Snakemake

MODEL is a GoodNet folder (results/G1), a .keras or legacy full-model .h5 file, or a
weights .h5 with --architecture. Errors are one line on stderr and exit status 1; stderr
carries nothing else. The checks that need no TensorFlow (files exist, can be read, are of
the right kind) run before TensorFlow loads, which takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from goodnet.core.errors import GoodnetError

# The CSAW-HackML-2020 eval.py divides pixels by 255; GoodNet folders record their own.
DEFAULT_SCALE = 255.0
PREDICT_BATCH = 256


def _positive(kind):
    """An argparse type: a number > 0 (NaN and infinity refused), as ``kind``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


# The --help text, as plain text (the module docstring is reST).
DESCRIPTION = "Score and run BadNets and GoodNets, as the CSAW-HackML-2020 challenge does."
EPILOG = """commands:
  goodnet eval CLEAN.h5 POISONED.h5 MODEL     clean accuracy and attack success rate
  goodnet predict MODEL IMAGE...              one class in [0, N] per png/jpeg image
  goodnet detect MODEL VALID.h5 TEST.h5 --out DIR
                                              find a backdoor without poisoned data
  goodnet results [FOLDER]                    a finished run's table, verdicts and files
  goodnet check CONFIG                        a workflow config, checked without Snakemake

MODEL is a GoodNet folder (results/G1), a .keras or legacy full-model .h5 file, or a
weights .h5 with --architecture. An error is one line on stderr and exit status 1."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="goodnet",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)

    def model_args(sp):
        sp.add_argument(
            "--input-scale",
            type=_positive(float),
            default=None,
            help=f"divide pixels by this (default: the GoodNet's own, else {DEFAULT_SCALE:g})",
        )
        sp.add_argument(
            "--architecture",
            default=None,
            help="MODEL is a weights-only .h5 for this built-in architecture (deepid)",
        )

    ev = sub.add_parser(
        "eval", help="clean accuracy and attack success rate, as the challenge's eval.py"
    )
    ev.add_argument("clean", help="clean test data (CSAW h5)")
    ev.add_argument("poisoned", help="poisoned test data (CSAW h5, labels = attacker's target)")
    ev.add_argument("model", help="GoodNet folder, .keras / .h5 model, or weights .h5")
    model_args(ev)
    ev.add_argument("--batch-size", type=_positive(int), default=512)

    pr = sub.add_parser("predict", help="one class in [0, N] per image (N: flagged as poisoned)")
    pr.add_argument("model", help="GoodNet folder, .keras / .h5 model, or weights .h5")
    pr.add_argument("images", nargs="+", help="png or jpeg images of the model's input size")
    model_args(pr)

    de = sub.add_parser(
        "detect", help="find a backdoor's target labels without poisoned data (Neural Cleanse)"
    )
    de.add_argument("model", help=".keras / .h5 model, or weights .h5 (not a GoodNet folder)")
    de.add_argument("clean_valid", help="clean validation data (CSAW h5): the search's only data")
    de.add_argument("clean_test", help="clean test data (CSAW h5): each flagged trigger's ASR")
    de.add_argument("--out", required=True, help="folder for detection.json, triggers.npy/.png")
    de.add_argument("--seed", type=int, default=2020, help="seeds the search (default 2020)")
    model_args(de)

    # The results block `make run` ends with (goodnet.results): files only, no TensorFlow.
    rs = sub.add_parser("results", help="a finished run's table, verdicts and where its files are")
    rs.add_argument("folder", nargs="?", default="results", help="the run's results folder")
    _add_check(sub)
    return p


def _resolve(model_arg: str, scale: float | None, architecture: str | None):
    """(model file, architecture, input scale, flag class or None) for a MODEL argument."""
    path = Path(model_arg)
    if path.is_dir():
        meta_path = path / "goodnet.json"
        if not meta_path.is_file():
            raise GoodnetError(path, "is a folder but not a GoodNet (no goodnet.json)")
        try:
            meta = json.loads(meta_path.read_text())
            flag, own_scale = int(meta["flag_class"]), float(meta["input_scale"])
        except (ValueError, KeyError, TypeError) as e:
            raise GoodnetError(meta_path, f"is not a valid GoodNet description ({e})") from None
        return path / "model.keras", None, scale or own_scale, flag
    return path, architecture, scale or DEFAULT_SCALE, None


def _check_model_file(path: Path, architecture: str | None) -> None:
    """The model file's cheap checks (exists, readable, the kind its name says, weights
    stored whole within the model budget), no Keras."""
    from goodnet.core import model_file, weight_file

    if architecture:
        model_file.check_weights_file(path)
    else:
        model_file.read_config(path)
    weight_file.stored_weights(path, weights_only=bool(architecture))


def cmd_eval(args) -> None:
    from goodnet.core.data_io import H5Dataset

    path, architecture, scale, flag = _resolve(args.model, args.input_scale, args.architecture)
    _check_model_file(path, architecture)
    clean, poisoned = H5Dataset(args.clean), H5Dataset(args.poisoned)

    from goodnet.core import inference, memory, model_io, runtime  # TensorFlow loads here
    from goodnet.core.scoring import scores

    runtime.configure()
    model = model_io.load(path, architecture)
    classes = int(model.output_shape[-1]) - (1 if flag is not None else 0)
    for data in (clean, poisoned):
        data.check_fits(tuple(model.input_shape[1:]), classes, "the model")
    memory.check_batch(
        model, args.batch_size, "--batch-size", images=max(clean.n, poisoned.n), source=None
    )
    with memory.guard("--batch-size", args.batch_size, source=None):
        inference.check_finite_on(model, clean, scale, path)
        sets = {Path(args.poisoned).stem: poisoned}
        m = scores(model, clean, sets, scale, args.batch_size, flag_class=flag)
    print(f"Clean Classification accuracy: {m['clean_accuracy']:.2f}")
    print(f"Attack Success Rate: {m['attack_success_rate']:.2f}")
    if flag is not None:
        print(f"Poisoned inputs flagged as {flag}: {m['poisoned_flagged']:.2f}")
        print(f"Clean inputs wrongly flagged: {m['clean_flagged']:.2f}")


def cmd_predict(args) -> None:
    import numpy as np

    from goodnet.core import image_file

    path, architecture, scale, _ = _resolve(args.model, args.input_scale, args.architecture)
    _check_model_file(path, architecture)
    paths = [Path(p) for p in args.images]
    pixels = [image_file.read(p) for p in paths]  # every image checked before any answer

    from goodnet.core import inference, model_io, runtime  # TensorFlow loads here

    runtime.configure()
    model = model_io.load(path, architecture)
    shape = tuple(model.input_shape[1:])
    for p, rgb in zip(paths, pixels):
        image_file.check_size(p, rgb, shape)
    images = np.stack(pixels)
    first = images[: inference.FIRST_BATCH] / np.float32(scale)
    inference.check_finite(model, first, path, f"the first {len(first)} images given")
    # In batches: a shell glob can name many thousands of images.
    for start in range(0, len(images), PREDICT_BATCH):
        batch = images[start : start + PREDICT_BATCH] / np.float32(scale)
        for cls in np.argmax(np.asarray(model(batch, training=False)), axis=-1):
            print(int(cls))


def cmd_detect(args) -> None:
    from goodnet.core.data_io import H5Dataset

    path, architecture, scale, flag = _resolve(args.model, args.input_scale, args.architecture)
    if flag is not None:
        raise GoodnetError(args.model, "is a GoodNet; detect searches a BadNet or a repaired net")
    _check_model_file(path, architecture)
    H5Dataset(args.clean_valid), H5Dataset(args.clean_test)  # cheap checks, before TensorFlow

    from goodnet import config, detect  # TensorFlow loads here
    from goodnet.core import runtime

    runtime.configure(seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    found = detect.detect(
        model=path,
        clean_valid=args.clean_valid,
        clean_test=args.clean_test,
        report=out / "detection.json",
        triggers=out / "triggers.npy",
        picture=out / "triggers.png",
        input_scale=scale,
        settings=config.defaults("detect"),
        seed=args.seed,
        architecture=architecture,
        log=lambda *parts: None,
    )
    print("\n".join(detect.lines(found)))


def cmd_results(args) -> None:
    from goodnet.results import results_text

    print(results_text(args.folder), end="")


# -- goodnet check CONFIG ----------------------------------------------------------------


def _add_check(sub) -> None:
    ch = sub.add_parser(
        "check",
        help="check a workflow config file as data, without Snakemake (which would run "
        "the Python a YTE config holds)",
    )
    ch.add_argument("config", help="a config file (YAML or JSON), e.g. one from elsewhere")


def cmd_check(args) -> None:
    from goodnet import config

    print(config.check_file(Path(args.config)))


def main(argv: list[str] | None = None) -> int:
    from goodnet.core import runtime

    runtime.quiet()  # first: before anything can import TensorFlow
    args = _parser().parse_args(argv)
    try:
        commands = {
            "eval": cmd_eval,
            "predict": cmd_predict,
            "detect": cmd_detect,
            "results": cmd_results,
            "check": cmd_check,
        }
        commands[args.command](args)
    except GoodnetError as e:
        sys.stderr.write(
            f"goodnet: error: {e}\n"
        )  # one write: one whole line, even in parallel runs
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
