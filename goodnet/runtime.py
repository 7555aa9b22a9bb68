"""Process-wide TensorFlow setup: quiet logs, thread count, seeds, determinism.

Call ``configure`` before building any model, once per process.
"""

from __future__ import annotations


def configure(threads: int | None = None, seed: int | None = None) -> None:
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
        except RuntimeError:
            pass  # TF already started its pools in this process; keep them
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
        tf.config.experimental.enable_op_determinism()
