"""One function per workflow stage: read the stage's input files, call the logic
modules, write its outputs atomically. ``scripts/<stage>.py`` only maps Snakemake's
inputs, outputs and params onto these, so they can also be called from Python."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from goodnet import atomic
from goodnet.data_io import H5Dataset
from goodnet.errors import GoodnetError


def _load_model(source):
    """``source`` is a model path or {"path", "architecture"} as the rules pass it."""
    from goodnet import model_io

    if isinstance(source, dict):
        return model_io.load(model_io.ModelSource(Path(source["path"]), source.get("architecture")))
    return model_io.load(source)


def _source_name(source) -> str:
    return source["path"] if isinstance(source, dict) else str(source)


def _dataset_for(model, path, what):
    from goodnet import inference

    data = H5Dataset(path)
    inference.check_data_fits(model, data, what)
    return data


def _check_memory(model, batch_size, key, datasets, training=False):
    """Fail with one line naming the config ``key`` if its batch cannot fit in memory;
    returns a guard that turns an out-of-memory error inside it into such a line too."""
    from goodnet import memory

    memory.check_batch(model, batch_size, key, images=max(d.n for d in datasets), training=training)
    return memory.guard(key, batch_size)


def _check_pixels_fit(data):
    """Training holds a data set's pixels in memory (uint8 when they are whole numbers)."""
    from goodnet import memory

    itemsize = 1 if data.integral else 4
    memory.check_array(data.n * int(np.prod(data.image_shape)) * itemsize, data.path, f"its {data.n} images")


# -- demo -----------------------------------------------------------------------------


def demo_data(out_dir, demo: dict, log=print) -> None:
    from goodnet import demo_data as demo_mod

    triggers: dict[str, dict] = {}
    for name, door in demo["backdoors"].items():
        prev = triggers.setdefault(door["trigger"], {"target": door["target"]})
        if prev["target"] != door["target"]:
            raise GoodnetError("config", f"demo.backdoors: trigger '{door['trigger']}' is given two targets")
    paths = demo_mod.write_demo_data(
        out_dir,
        num_classes=demo["num_classes"],
        train_per_class=demo["train_per_class"],
        valid_per_class=demo["valid_per_class"],
        test_per_class=demo["test_per_class"],
        seed=demo["seed"],
        triggers=triggers,
    )
    for p in paths:
        log("wrote", p)


def train_badnet(train_h5, valid_h5, out, *, backdoor, training, num_classes, input_scale, seed, log=print):
    from goodnet import demo_data as demo_mod
    from goodnet import inference, model_io
    from goodnet import training as train_mod
    from goodnet.architectures import deepid

    data = H5Dataset(train_h5)
    _check_pixels_fit(data)
    x, y = demo_mod.poison_training_set(
        data.load_pixels(), data.labels, trigger=backdoor["trigger"], target=backdoor["target"],
        fraction=backdoor["poison_fraction"], seed=seed,
    )
    log(f"training DeepID on {len(y)} images ({backdoor['trigger']} -> class {backdoor['target']})")
    # Built here, not by train_mod.fit_badnet, so the memory check sees it before training.
    model = train_mod.seeded_model(seed, lambda: deepid(num_classes=num_classes, input_shape=data.image_shape))
    with _check_memory(model, training["batch_size"], "demo.training.batch_size", [data], training=True):
        train_mod.train(
            model, x, y, epochs=training["epochs"], batch_size=training["batch_size"],
            learning_rate=training["learning_rate"], seed=seed, input_scale=input_scale, log=log,
        )
    valid = H5Dataset(valid_h5)
    pred = inference.predict_classes(model, valid, input_scale)
    log(f"clean validation accuracy {100 * np.mean(pred == valid.labels):.2f} %")
    model_io.save(model, out)


# -- pruning --------------------------------------------------------------------------


def _layers(model, layer, source):
    from goodnet import graph

    pruned = graph.find_pruned_layer(model, layer, _source_name(source))
    if not graph.LayerGraph.of(model).dominates(pruned):
        # The sweep runs the net after the cut on cached features: a branch around the
        # layer (DeepID's fc_1 around conv_4) would be cut off from its input.
        raise GoodnetError(
            _source_name(source),
            f"layer '{pruned}' is bypassed by another path from the input to the output; prune a Conv2D "
            f"that every path goes through (leave out 'layer:' to take the last one)",
        )
    return pruned, graph.cut_layer(model, pruned)


def activations(source, clean_valid, out, *, input_scale, layer=None, batch_size=512,
                batch_key="evaluate.batch_size", log=print):
    from goodnet import activations as act

    model = _load_model(source)
    pruned, cut = _layers(model, layer, source)
    data = _dataset_for(model, clean_valid, "the BadNet")
    log(f"mean activation of '{pruned}' channels, measured at '{cut}', on {data.n} clean images")
    with _check_memory(model, batch_size, batch_key, [data]):
        mean = act.mean_activation(act.features(model, cut, data, input_scale, batch_size))
    atomic.save_npy(out, mean)


def prune_sweep(source, activations_npy, clean_valid, poisoned, out, *, input_scale, layer=None,
                thresholds=(), batch_size=2048, batch_key="prune.batch_size", log=print):
    """``out``: dict with keys csv, clean, asr, plot."""
    from goodnet import activations as act
    from goodnet import plots, pruning

    model = _load_model(source)
    pruned, cut = _layers(model, layer, source)
    mean = _load_activations(activations_npy, model.get_layer(pruned).filters)
    order = pruning.pruning_order(mean)
    clean = _dataset_for(model, clean_valid, "the BadNet")
    bad = _dataset_for(model, poisoned, "the BadNet")
    log(f"features at '{cut}' for {clean.n} clean and {bad.n} poisoned images")
    _check_features_fit(model, cut, clean, bad)
    with _check_memory(model, batch_size, batch_key, [clean, bad]):
        feats_clean = act.features(model, cut, clean, input_scale)
        feats_bad = act.features(model, cut, bad, input_scale)
        log(f"sweeping {len(order)} channels of '{pruned}'")
        sweep = pruning.run_sweep(model, cut, order, (feats_clean, clean.labels), (feats_bad, bad.labels), batch_size)
    atomic.write_text(out["csv"], sweep.to_csv())
    # The seeds' arrays: accuracy after pruning 1, 2, ... C channels.
    atomic.save_npy(out["clean"], sweep.clean_accuracy[1:])
    atomic.save_npy(out["asr"], sweep.attack_success_rate[1:])
    plots.sweep_plot(out["plot"], sweep, thresholds, f"Pruning '{pruned}'", Path(poisoned).name)
    log(f"clean accuracy {sweep.clean_accuracy[0]:.2f} -> {sweep.clean_accuracy[-1]:.2f}, "
        f"ASR {sweep.attack_success_rate[0]:.2f} -> {sweep.attack_success_rate[-1]:.2f}")


def _check_features_fit(model, cut, clean, bad):
    """The sweep holds the float32 features at ``cut`` of both data sets in memory."""
    from goodnet import memory

    per_image = 4 * int(np.prod(model.get_layer(cut).output.shape[1:]))
    memory.check_array(per_image * (clean.n + bad.n), clean.path, f"the '{cut}' features of {clean.n} + {bad.n} images")


def _load_activations(path, channels: int) -> np.ndarray:
    try:
        mean = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise GoodnetError(path, f"is not a readable .npy array ({e})") from None
    if mean.shape != (channels,) or not np.all(np.isfinite(mean)):
        raise GoodnetError(path, f"holds shape {mean.shape}; want ({channels},) finite values")
    return mean


def prune(source, sweep_csv, out_model, out_info, *, threshold: float, layer=None, log=print):
    from goodnet import model_io, pruning, surgery

    model = _load_model(source)
    pruned, _ = _layers(model, layer, source)
    try:
        sweep = pruning.Sweep.from_csv(Path(sweep_csv).read_text())
    except (KeyError, ValueError, OSError) as e:
        raise GoodnetError(sweep_csv, f"is not a prune sweep table ({e})") from None
    k = pruning.steps_for_drop(sweep.clean_accuracy, threshold)
    if k is None:
        worst = sweep.clean_accuracy[0] - sweep.clean_accuracy.min()
        chance = 100.0 / int(model.output_shape[-1])
        hint = "use a smaller X"
        if sweep.clean_accuracy[0] < 2 * chance:  # the BadNet is no better than guessing
            hint = (f"the BadNet is at chance level ({chance:.2f} %) before pruning: check 'input_scale' "
                    f"(CSAW 2020 nets want 255) and that the clean validation data fit the model")
        raise GoodnetError(
            sweep_csv,
            f"pruning never lowers clean validation accuracy ({sweep.clean_accuracy[0]:.2f} %) by "
            f"{threshold:g} points (at most by {worst:.2f}); {hint}",
        )
    result = surgery.delete_channels(model, pruned, sweep.order[:k])
    log(f"X={threshold:g}: pruned {k} of {sweep.channels} channels of '{pruned}' ({result.mode})")
    if result.mode == "masked":
        log("could not delete channels physically, masked them instead:", result.reason)
    info = {
        "threshold": threshold,
        "layer": pruned,
        "channels_total": int(sweep.channels),
        "channels_pruned": k,
        "pruned_channels": result.pruned_channels,
        "mode": result.mode,
        "reason": result.reason,
        "clean_valid_accuracy_before": float(sweep.clean_accuracy[0]),
        "clean_valid_accuracy_after": float(sweep.clean_accuracy[k]),
    }
    model_io.save(result.model, out_model)
    atomic.write_json(out_info, info)


# -- repair ---------------------------------------------------------------------------


def fine_tune(source, clean_valid, out, *, input_scale, fine_tune: dict, seed: int, info=None, log=print):
    """Fine-tune on clean validation data: the baseline (``source`` = the BadNet) or the
    second half of fine-pruning (``source`` = a pruned model, ``info`` its json)."""
    from goodnet import model_io, surgery
    from goodnet import training as train_mod

    model = _load_model(source)
    data = _dataset_for(model, clean_valid, "the model")
    callbacks = []
    if info:
        meta = json.loads(Path(info).read_text())
        if meta["mode"] == "masked":
            callbacks.append(surgery.KeepMasked(meta["layer"], meta["pruned_channels"]))
    if fine_tune["epochs"] > 0:
        log(f"fine-tuning on {data.n} clean validation images for {fine_tune['epochs']} epochs")
        _check_pixels_fit(data)
        with _check_memory(model, fine_tune["batch_size"], "fine_tune.batch_size", [data], training=True):
            train_mod.train(
                model, data.load_pixels(), data.labels, epochs=fine_tune["epochs"],
                batch_size=fine_tune["batch_size"], learning_rate=fine_tune["learning_rate"],
                seed=seed, input_scale=input_scale, log=log, callbacks=callbacks,
            )
    model_io.save(model, out)


def goodnet(source, repaired, clean_test, poisoned_test, out_dir, *, badnet: str, input_scale,
            threshold: float, batch_size=512, log=print):
    from goodnet import goodnet_model, inference, metrics, model_io

    bad = _load_model(source)
    rep = _load_model(repaired)
    g = goodnet_model.build(bad, rep)
    n = int(bad.output_shape[-1])
    clean = _dataset_for(bad, clean_test, "the BadNet")
    poisoned = _dataset_for(bad, poisoned_test, "the BadNet")
    with _check_memory(g, batch_size, "evaluate.batch_size", [clean, poisoned]):
        m = metrics.evaluate(
            inference.predict_classes(g, clean, input_scale, batch_size), clean.labels,
            inference.predict_classes(g, poisoned, input_scale, batch_size), poisoned.labels,
            flag_class=n,
        )
    m.update(model=Path(out_dir).name, badnet=badnet, threshold=threshold)
    meta = {
        "badnet": badnet,
        "badnet_source": _source_name(source),
        "repaired": str(repaired),
        "threshold": threshold,
        "classes": n,
        "flag_class": n,
        "input_scale": input_scale,
        "input_shape": list(bad.input_shape[1:]),
    }
    with atomic.atomic_dir(out_dir) as tmp:
        model_io.save(g, tmp / "model.keras")
        atomic.write_json(tmp / "metrics.json", m)
        atomic.write_json(tmp / "goodnet.json", meta)
        atomic.write_text(tmp / "MODEL_CARD.md", _model_card(Path(out_dir).name, meta, m))
    log(f"{Path(out_dir).name}: clean accuracy {m['clean_accuracy']:.2f} %, ASR {m['attack_success_rate']:.2f} %, "
        f"poisoned flagged {m['poisoned_flagged']:.2f} %, clean flagged {m['clean_flagged']:.2f} %")


def _model_card(name: str, meta: dict, m: dict) -> str:
    n = meta["classes"]
    return f"""# {name}: GoodNet for BadNet {meta['badnet']}

{name} runs the BadNet ({meta['badnet_source']}) and its fine-pruned copy
({meta['repaired']}: channels pruned until clean validation accuracy dropped by
{meta['threshold']:g} points, then fine-tuned on clean validation data) side by side.
When they agree it outputs their class (0..{n - 1}); when they disagree it outputs
**{n}**, meaning "this input is probably poisoned".

- Input: images of shape {tuple(meta['input_shape'])}, pixels divided by {meta['input_scale']:g}.
- Output: {n + 1} scores; argmax is the decision.
- Load: `import goodnet, keras; keras.models.load_model("model.keras")`
  (importing goodnet registers the decision layer; safe mode stays on).
- Command line: `goodnet eval CLEAN.h5 POISONED.h5 {name}`, `goodnet predict {name} IMAGE...`

## Measured on test data (never used for any choice)

| metric | value |
|---|---|
| clean test accuracy | {m['clean_accuracy']:.2f} % |
| attack success rate | {m['attack_success_rate']:.2f} % |
| poisoned test inputs flagged as {n} | {m['poisoned_flagged']:.2f} % |
| clean test inputs wrongly flagged | {m['clean_flagged']:.2f} % |
| clean / poisoned test images | {m['clean_images']} / {m['poisoned_images']} |

Limits: the repair is only as good as the clean validation data; an adaptive attacker
who knows about fine-pruning can hide a backdoor in active channels (Liu et al. 2018).
"""


# -- evaluation -----------------------------------------------------------------------


def evaluate(model_source, clean_test, poisoned_test, out, *, input_scale, name: str, badnet: str,
             batch_size=512, log=print):
    from goodnet import inference, metrics

    model = _load_model(model_source)
    clean = _dataset_for(model, clean_test, "the model")
    poisoned = _dataset_for(model, poisoned_test, "the model")
    with _check_memory(model, batch_size, "evaluate.batch_size", [clean, poisoned]):
        m = metrics.evaluate(
            inference.predict_classes(model, clean, input_scale, batch_size), clean.labels,
            inference.predict_classes(model, poisoned, input_scale, batch_size), poisoned.labels,
        )
    m.update(model=name, badnet=badnet, parameters=int(model.count_params()))
    atomic.write_json(out, m)
    log(f"{badnet}/{name}: clean accuracy {m['clean_accuracy']:.2f} %, ASR {m['attack_success_rate']:.2f} %")


SUMMARY_COLUMNS = [
    "badnet", "model", "clean_accuracy", "attack_success_rate", "poisoned_flagged",
    "clean_flagged", "parameters", "clean_images", "poisoned_images",
]


def summary(metric_files, goodnet_dirs, out_csv, out_png, out_html=None, log=print):
    from goodnet import plots

    rows = [json.loads(Path(p).read_text()) for p in metric_files]
    rows += [json.loads((Path(d) / "metrics.json").read_text()) for d in goodnet_dirs]
    rows.sort(key=lambda r: (r["badnet"], _model_rank(r["model"])))
    buf = io.StringIO()
    w = csv.DictWriter(buf, SUMMARY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic.write_text(out_csv, buf.getvalue())
    if out_html:  # the same table, readable inside the Snakemake report
        atomic.write_text(out_html, _html_table(buf.getvalue()))
    plots.summary_plot(out_png, rows)
    log(f"summary of {len(rows)} models")


def _html_table(csv_text: str) -> str:
    import html

    rows = list(csv.reader(io.StringIO(csv_text)))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>\n" for r in rows[1:]
    )
    style = "table{border-collapse:collapse;font:13px sans-serif}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{style}</style></head><body><table><tr>{head}</tr>\n{body}</table></body></html>\n"


def _model_rank(name: str):
    """badnet, fine_tuned, pruned_X.., fine_pruned_X.. (by X), then the GoodNet."""
    for i, prefix in enumerate(("badnet", "fine_tuned", "pruned_X", "fine_pruned_X")):
        if name == prefix or (prefix.endswith("_X") and name.startswith(prefix)):
            x = float(name[len(prefix):]) if prefix.endswith("_X") else 0.0
            return (i, x)
    return (9, 0.0)
