"""Adapter results against ``keras.Model(model.inputs, layer.output)`` built independently."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widget import activations, layer_weights, list_layers

ATOL = 1e-5


def _reference(keras, model, layer_name, x):
    """What a tutorial computes: a sub-model from model.inputs to the layer, predict()."""
    layer = model.get_layer(layer_name)
    probe = keras.Model(model.inputs, layer.output)
    batch = next(iter(model.inputs[0].shape))
    if batch is None:
        return probe.predict(x, verbose=0)
    # A Sequential built by a first call has a fixed batch size: feed it sample by sample.
    return np.concatenate([probe.predict(x[i : i + batch], verbose=0) for i in range(len(x))])


def _snapshot(model):
    weights = [w.copy() for w in model.get_weights()]
    nodes = {id(layer): len(layer._inbound_nodes) for layer in model._flatten_layers()}
    return weights, nodes


def _assert_unchanged(model, before, x):
    weights, nodes = _snapshot(model)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], weights, strict=True))
    assert nodes == before[1], "layers gained or lost graph nodes"


@pytest.mark.parametrize(
    "fixture", ["seq_with_input", "seq_input_shape", "seq_first_call", "functional"]
)
def test_every_layer_equals_independent_submodel(request, keras, fixture, digits_like):
    model = request.getfixturevalue(fixture)
    before = _snapshot(model)
    expected_out = model.predict(digits_like, verbose=0) if fixture != "seq_first_call" else None
    infos = list_layers(model)
    got = activations(model, digits_like)
    assert list(got) == [info.name for info in infos]
    for info in infos:
        if info.kind == "input":
            np.testing.assert_array_equal(got[info.name], digits_like)
            continue
        ref = _reference(keras, model, info.name, digits_like)
        assert got[info.name].shape == ref.shape, info.name
        np.testing.assert_allclose(got[info.name], ref, atol=ATOL, rtol=1e-5, err_msg=info.name)
        assert info.output_shape == (None, *ref.shape[1:])
    _assert_unchanged(model, before, digits_like)
    if expected_out is not None:
        np.testing.assert_array_equal(model.predict(digits_like, verbose=0), expected_out)


def test_sequential_never_built_is_built_from_images(keras, digits_like):
    layers = [keras.layers.Conv2D(4, 3, name="c"), keras.layers.Flatten(name="f")]
    model = keras.Sequential(layers)
    with pytest.raises(ValueError, match="never been built"):
        list_layers(model)
    got = activations(model, digits_like, ["c"])
    ref = keras.Model(model.inputs, model.get_layer("c").output).predict(digits_like, verbose=0)
    np.testing.assert_allclose(got["c"], ref, atol=ATOL)


def test_layer_info_fields(seq_with_input):
    infos = list_layers(seq_with_input)
    assert [i.name for i in infos] == ["conv_a", "pool_a", "conv_b", "flat", "probs"]
    assert [i.kind for i in infos] == ["conv", "pool", "conv", "reshape", "dense"]
    conv = infos[0]
    assert conv.type == "Conv2D"
    assert conv.output_shape == (None, 26, 26, 8)
    assert conv.params == 3 * 3 * 1 * 8 + 8
    assert conv.trainable is True
    assert conv.parent is None
    assert infos[-1].params == 11 * 11 * 16 * 10 + 10


def test_nested_submodel_layers_listed_and_reachable(keras, nested_vgg):
    model = nested_vgg
    before = _snapshot(model)
    vgg = model.get_layer("vgg16")
    infos = list_layers(model)
    names = [i.name for i in infos]
    assert names[0] == "vgg16"
    assert infos[0].kind == "model"
    inner = [i for i in infos if i.parent == "vgg16"]
    assert [i.name for i in inner] == [f"vgg16/{layer.name}" for layer in vgg.layers]
    assert names[-2:] == ["flat", "probs"]

    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    wanted = ["vgg16/block1_conv1", "vgg16/block3_conv2", "vgg16/block5_pool", "probs"]
    got = activations(model, x, wanted)
    for name in wanted[:3]:
        inner_layer = vgg.get_layer(name.split("/", 1)[1])
        # The sub-model is the first layer, so its input is the model's input.
        ref = keras.Model(vgg.inputs, inner_layer.output).predict(x, verbose=0)
        np.testing.assert_allclose(got[name], ref, atol=ATOL, rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(got["probs"], model.predict(x, verbose=0), atol=1e-6)
    _assert_unchanged(model, before, x)


def test_two_image_inputs(keras, two_inputs, two_inputs_images):
    model = two_inputs
    got = activations(model, two_inputs_images)
    for name in ["conv_grey", "conv_colour", "concat", "logits"]:
        ref = keras.Model(model.inputs, model.get_layer(name).output).predict(
            two_inputs_images, verbose=0
        )
        np.testing.assert_allclose(got[name], ref, atol=ATOL, err_msg=name)
    np.testing.assert_array_equal(got["grey"], two_inputs_images[0])
    np.testing.assert_array_equal(got["colour"], two_inputs_images[1])
    with pytest.raises(ValueError, match="2 inputs"):
        activations(model, two_inputs_images[0])


def test_all_requested_layers_come_from_one_forward_pass(keras, digits_like):
    class CountCalls(keras.layers.Layer):
        """Counts executed forward passes in a variable (runs inside compiled graphs)."""

        def build(self, input_shape):
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, x):
            self.calls.assign_add(1.0)
            return x

    counter = CountCalls(name="counter")
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), counter, *[layer for layer in _fresh_layers(keras)]]
    )
    activations(model, digits_like, ["conv_a", "conv_b", "probs"])
    assert float(counter.calls.numpy()) == 1.0
    activations(model, digits_like)  # every layer: still one pass
    assert float(counter.calls.numpy()) == 2.0


def _fresh_layers(keras):
    return [
        keras.layers.Conv2D(4, 3, name="conv_a"),
        keras.layers.Conv2D(4, 3, name="conv_b"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="probs"),
    ]


def test_uint8_images_are_cast_unchanged(keras, seq_with_input):
    images = np.random.default_rng(3).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    got = activations(seq_with_input, images, "conv_a")["conv_a"]
    ref = _reference(keras, seq_with_input, "conv_a", images.astype(np.float32))
    np.testing.assert_allclose(got, ref, atol=1e-3, rtol=1e-5)


def test_single_image_without_batch_axis(seq_with_input, digits_like):
    got = activations(seq_with_input, digits_like[0], "conv_a")["conv_a"]
    assert got.shape == (1, 26, 26, 8)


def test_preprocess_maps_display_images_to_model_input(seq_with_input, digits_like):
    images = (digits_like * 255).astype(np.uint8)
    got = activations(seq_with_input, images, "conv_a", preprocess=lambda x: x / 255.0)["conv_a"]
    want = activations(seq_with_input, images.astype(np.float32) / 255.0, "conv_a")["conv_a"]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "received"),
    [((3, 28, 28), r"\(3, 28, 28\)"), ((3, 32, 28, 1), r"\(3, 32, 28, 1\)"), ((28,), r"\(28,\)")],
)
def test_wrong_shapes_name_expected_and_received(seq_with_input, shape, received):
    with pytest.raises(ValueError, match=r"\(28, 28, 1\).*" + received):
        activations(seq_with_input, np.zeros(shape, np.float32))


def test_unknown_layer_lists_close_matches(seq_with_input, digits_like):
    with pytest.raises(KeyError, match="conv_a") as caught:
        activations(seq_with_input, digits_like, "conv_c")
    assert isinstance(caught.value, ValueError)
    assert "Did you mean" in str(caught.value)


def test_unsupported_object_names_supported_frameworks():
    with pytest.raises(TypeError, match="Keras"):
        list_layers(object())


def test_layer_weights_channels_last(keras, seq_with_input):
    kernel, bias = layer_weights(seq_with_input, "conv_a")
    assert kernel.shape == (3, 3, 1, 8)
    np.testing.assert_array_equal(kernel, seq_with_input.get_layer("conv_a").kernel.numpy())
    np.testing.assert_array_equal(bias, seq_with_input.get_layer("conv_a").bias.numpy())
    dense_kernel, _ = layer_weights(seq_with_input, "probs")
    assert dense_kernel.shape == (11 * 11 * 16, 10)
    with pytest.raises(ValueError, match="no weights"):
        layer_weights(seq_with_input, "pool_a")


def test_layer_names_tensorflow_refuses_still_work(keras, digits_like):
    # Keras accepts any layer name; TensorFlow's graph scopes refuse "<" and spaces, so
    # the compiled pass cannot trace this model and the adapter runs it eagerly instead.
    name = "<img src=x onerror=alert(1)>"
    x = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(4, 3, name="conv")(x)
    odd = keras.layers.Activation("relu", name=name)(conv)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(odd))
    model = keras.Model(x, out)
    got = activations(model, digits_like, [name, "conv"])
    conv_ref = keras.Model(model.inputs, conv).predict(digits_like, verbose=0)
    np.testing.assert_allclose(got["conv"], conv_ref, atol=ATOL)
    np.testing.assert_allclose(got[name], np.maximum(conv_ref, 0), atol=ATOL)


def test_adapter_cache_keeps_only_a_few_models_alive(keras, digits_like):
    import gc
    import weakref

    from cnnviz_widget.adapters import RECENT_ADAPTERS

    def used_model():
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3, name="c")])
        activations(model, digits_like, "c")
        return weakref.ref(model)

    refs = [used_model() for _ in range(RECENT_ADAPTERS + 2)]
    gc.collect()
    assert refs[0]() is None
    assert refs[1]() is None


def test_transposed_conv_kernel_is_in_out_ordered(keras):
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2DTranspose(5, 3, name="up")]
    )
    kernel, bias = layer_weights(model, "up")
    assert kernel.shape == (3, 3, 3, 5)  # (kh, kw, in, out), as for every conv
    stored = model.get_layer("up").kernel.numpy()  # Keras keeps (kh, kw, out, in)
    np.testing.assert_array_equal(kernel, stored.transpose(0, 1, 3, 2))
    assert bias.shape == (5,)


def test_never_built_sequential_with_one_unbatched_image(keras, digits_like):
    model = keras.Sequential([keras.layers.Conv2D(4, 3, name="c"), keras.layers.Flatten()])
    with pytest.raises(ValueError, match=r"rank 4.*\(28, 28\)"):
        activations(model, digits_like[0, ..., 0])  # rank 2: neither one image nor a batch
    assert not model.built  # a wrong example did not fix a wrong input shape
    got = activations(model, digits_like[0], "c")["c"]  # one image, no batch axis
    assert got.shape == (1, 26, 26, 4)
    assert activations(model, digits_like, "c")["c"].shape == (3, 26, 26, 4)


def test_unknown_layer_without_close_match_lists_the_layers(seq_with_input, digits_like):
    with pytest.raises(KeyError, match="Its layers are: 'conv_a'"):
        activations(seq_with_input, digits_like, "zzzz")
