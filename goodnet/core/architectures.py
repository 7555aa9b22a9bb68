"""Built-in architectures that a weights-only .h5 can be loaded into.

``deepid`` is the CSAW-HackML-2020 BadNet: the layer names match the challenge's weight
files, so Keras 2 weights load by name and ``conv_3`` is the layer fine-pruning prunes.
"""

from __future__ import annotations

import keras
from keras import layers


def deepid(num_classes: int = 1283, input_shape: tuple[int, int, int] = (55, 47, 3)) -> keras.Model:
    x = keras.Input(shape=input_shape, name="input")
    # feature extraction
    h = layers.Conv2D(20, (4, 4), activation="relu", name="conv_1")(x)
    h = layers.MaxPooling2D((2, 2), name="pool_1")(h)
    h = layers.Conv2D(40, (3, 3), activation="relu", name="conv_2")(h)
    h = layers.MaxPooling2D((2, 2), name="pool_2")(h)
    h = layers.Conv2D(60, (3, 3), activation="relu", name="conv_3")(h)
    pool_3 = layers.MaxPooling2D((2, 2), name="pool_3")(h)
    # two interpretations of the pooled features: direct, and through one more conv
    fc_1 = layers.Dense(160, name="fc_1")(layers.Flatten(name="flatten_1")(pool_3))
    conv_4 = layers.Conv2D(80, (2, 2), activation="relu", name="conv_4")(pool_3)
    fc_2 = layers.Dense(160, name="fc_2")(layers.Flatten(name="flatten_2")(conv_4))
    merged = layers.Activation("relu", name="activation_1")(layers.Add(name="add_1")([fc_1, fc_2]))
    y = layers.Dense(num_classes, activation="softmax", name="output")(merged)
    return keras.Model(x, y, name="deepid")


ARCHITECTURES = {"deepid": deepid}
