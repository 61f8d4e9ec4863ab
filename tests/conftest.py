"""Shared models.  Real Keras models, small enough to build in a second."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def _small_cnn_layers(keras):
    return [
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
        keras.layers.MaxPooling2D(name="pool_a"),
        keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(10, activation="softmax", name="probs"),
    ]


@pytest.fixture(scope="session")
def digits_like():
    return np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)


@pytest.fixture(scope="session")
def seq_with_input(keras):
    return keras.Sequential([keras.Input((28, 28, 1)), *_small_cnn_layers(keras)], name="seq_input")


@pytest.fixture(scope="session")
def seq_input_shape(keras):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that input_shape is old-fashioned
        first = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a", input_shape=(28, 28, 1))
    return keras.Sequential([first, *_small_cnn_layers(keras)[1:]], name="seq_input_shape")


@pytest.fixture(scope="session")
def seq_first_call(keras, digits_like):
    model = keras.Sequential(_small_cnn_layers(keras), name="seq_first_call")
    model(digits_like[:1])  # built by a first call: its inputs have batch size 1
    return model


@pytest.fixture(scope="session")
def functional(keras):
    x = keras.Input((28, 28, 1), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(x)
    b = keras.layers.Conv2D(8, 3, padding="same", name="conv_b")(a)
    b = keras.layers.BatchNormalization(name="bn")(b)
    merged = keras.layers.Add(name="add")([a, b])
    merged = keras.layers.ReLU(name="relu")(merged)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(merged)
    pooled = keras.layers.Dropout(0.5, name="drop")(pooled)
    out = keras.layers.Dense(10, activation="softmax", name="probs")(pooled)
    return keras.Model(x, out, name="functional")


@pytest.fixture(scope="session")
def nested_vgg(keras):
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            vgg,
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="vgg_classifier",
    )


@pytest.fixture(scope="session")
def two_inputs(keras):
    grey = keras.Input((28, 28, 1), name="grey")
    colour = keras.Input((20, 20, 3), name="colour")
    g = keras.layers.Conv2D(4, 3, activation="relu", name="conv_grey")(grey)
    c = keras.layers.Conv2D(6, 3, activation="relu", name="conv_colour")(colour)
    g = keras.layers.GlobalMaxPooling2D(name="gmp_grey")(g)
    c = keras.layers.GlobalMaxPooling2D(name="gmp_colour")(c)
    joined = keras.layers.Concatenate(name="concat")([g, c])
    out = keras.layers.Dense(3, name="logits")(joined)
    return keras.Model([grey, colour], out, name="two_inputs")


@pytest.fixture(scope="session")
def two_inputs_images():
    rng = np.random.default_rng(1)
    return [
        rng.random((2, 28, 28, 1), dtype=np.float32),
        rng.random((2, 20, 20, 3), dtype=np.float32),
    ]
