"""top_activations over a whole dataset, against a brute-force numpy reference.

The reference (``brute_force``) holds the definition written out plainly: every image's
activations at once from ``keras.Model(model.inputs, layer.output).predict``, each channel's
map reduced to its mean (or max), and for each channel the images sorted by value, highest
first, ties by lower index, with Python's ``sorted``.  The scan under test keeps only a
running top k per channel; both must agree on arrays, streams, tf.data, torch DataLoaders
and dask arrays.  The model is the bundled digits CNN on real MNIST digits.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.data import digits, digits_cnn
from cnnviz_widget.methods import Cancelled
from cnnviz_widget.methods.dataset import (
    ScanProgress,
    TopActivations,
    channel_values,
    iter_top_activations,
    merge_top,
    top_activations,
)


@pytest.fixture(scope="module")
def model(keras):
    return digits_cnn()


@pytest.fixture(scope="module")
def data():
    images, labels = digits(300)
    return images, labels


def brute_force(model, images, layer, k, reduce="mean"):
    """Every activation at once, reduced per channel, sorted by (-value, index)."""
    import keras

    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    acts = sub.predict(images, batch_size=64, verbose=0)
    axes = tuple(range(1, acts.ndim - 1))
    if reduce == "max":
        values = acts.max(axis=axes)
    else:
        values = acts.astype(np.float64).mean(axis=axes).astype(np.float32)
    return ranked(values, k)


def ranked(values, k):
    """For each channel (column) of ``values`` (N, C), the k best images by (-value, index)."""
    n, channels = values.shape
    indices = np.empty((channels, min(k, n)), np.int64)
    for c in range(channels):
        indices[c] = sorted(range(n), key=lambda i: (-values[i, c], i))[:k]
    return indices, np.take_along_axis(values.T, indices, axis=1)


def assert_matches(result, expected, rtol=1e-6):
    indices, values = expected
    assert isinstance(result, TopActivations)
    assert result.indices.dtype == np.int64
    assert result.values.dtype == np.float32
    np.testing.assert_array_equal(result.indices, indices)
    np.testing.assert_allclose(result.values, values, rtol=rtol, atol=1e-7)


def uneven_batches(images, labels, sizes):
    """(x, y) batches of the given sizes, covering ``images`` in order."""
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == len(images)
    for start, stop in itertools.pairwise(bounds):
        yield images[start:stop], labels[start:stop]


# ------------------------------------------------------------------------------- results
def test_array_equals_brute_force(model, data):
    images, _ = data
    result = top_activations(model, images, "conv2d_1", k=9, progress=False)
    assert result.indices.shape == (64, 9)
    assert_matches(result, brute_force(model, images, "conv2d_1", 9))


def test_stream_of_uneven_xy_batches_equals_brute_force(model, data):
    images, labels = data
    stream = uneven_batches(images, labels, [1, 50, 7, 100, 142])
    result = top_activations(model, stream, "conv2d", k=5, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d", 5), rtol=1e-5)


def test_tf_data_dataset_equals_brute_force(model, data):
    import tensorflow as tf

    images, labels = data
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(37)
    result = top_activations(model, dataset, "conv2d_1", k=4, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d_1", 4), rtol=1e-5)


def test_torch_dataloader_equals_brute_force(model, data):
    torch = pytest.importorskip("torch")
    images, labels = data
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)),
        batch_size=64,
    )
    result = top_activations(model, loader, "conv2d_1", k=3, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d_1", 3))


def test_torch_model_equals_a_forward_hook_reference():
    torch = pytest.importorskip("torch")
    from _torch_models import skip_net

    model = skip_net()
    images = torch.randn(70, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    # The reference: the block's ReLU output (N, C, H, W) from one eval-mode pass of all images.
    captured = []
    handle = model.block[2].register_forward_hook(lambda m, a, out: captured.append(out.clone()))
    model.eval()
    with torch.no_grad():
        model(images)
    handle.remove()
    model.train()
    values = captured[0].double().mean(dim=(2, 3)).float().numpy()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=16)
    result = top_activations(model, loader, "block.2", k=5, progress=False)
    assert_matches(result, ranked(values, 5), rtol=1e-5)
    assert model.training  # the user's model is left in its own mode


def test_h5py_dataset_is_read_batch_by_batch(model, data, tmp_path):
    h5py = pytest.importorskip("h5py")
    images, _ = data
    with h5py.File(tmp_path / "digits.h5", "w") as f:
        f["images"] = images
    with h5py.File(tmp_path / "digits.h5", "r") as f:
        result = top_activations(model, f["images"], "conv2d_1", k=4, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d_1", 4))


def test_dask_array_locally_equals_brute_force(model, data):
    da = pytest.importorskip("dask.array")
    images, _ = data
    # Blocks of 70 along the images (cut into batches of 64 and 6), split along the height too.
    stack = da.from_array(images, chunks=(70, 14, 28, 1))
    result = top_activations(model, stack, "conv2d_1", k=6, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d_1", 6), rtol=1e-5)


def test_dense_units_rank_the_digits_of_their_class(model):
    images, labels = digits(1000)
    dense = top_activations(model, images, "dense", k=9, progress=False)
    assert dense.indices.shape == (100, 9)  # one row per unit of the hidden Dense(100)
    assert_matches(dense, brute_force(model, images, "dense", 9))
    # The output unit of digit c fires most on the digits the model is surest are c.
    scores = top_activations(model, images, "dense_1", k=9, progress=False)
    np.testing.assert_array_equal(labels[scores.indices], np.arange(10)[:, None].repeat(9, 1))


def test_reduce_max_equals_brute_force(model, data):
    images, _ = data
    result = top_activations(model, images, "conv2d", k=7, reduce="max", progress=False)
    assert_matches(result, brute_force(model, images, "conv2d", 7, reduce="max"))


def test_exact_ties_are_ordered_by_index_across_batches(model):
    # Constant images at three grey levels, image i at level i % 3: the images of one level
    # give bit-identical maps, so each channel's best images tie, across batches of 4.
    levels = np.array([0.0, 0.5, 1.0], np.float32)
    level_of = np.arange(30) % 3
    images = np.ascontiguousarray(
        np.broadcast_to(levels[level_of, None, None, None], (30, 28, 28, 1))
    )
    result = top_activations(model, images, "conv2d_1", k=5, batch_size=4, progress=False)
    assert_matches(result, brute_force(model, images, "conv2d_1", 5))
    # Written out: each channel's value at each level, then the first five images (by
    # index) at the channel's best level; ten images share each level, so all five tie.
    import keras

    sub = keras.Model(model.inputs, model.get_layer("conv2d_1").output)
    per_level = sub.predict(images[:3], verbose=0).astype(np.float64).mean(axis=(1, 2))
    per_level = per_level.astype(np.float32)  # (3 levels, C)
    for c in range(per_level.shape[1]):
        best = per_level[:, c].max()
        at_best = [i for i in range(30) if per_level[level_of[i], c] == best]
        np.testing.assert_array_equal(result.indices[c], at_best[:5])
    assert (result.values[:, 0] == result.values[:, 4]).all()


def test_several_layers_from_one_pass(model, data, monkeypatch):
    images, labels = data
    adapter = adapter_for(model)
    passes = []
    # The Keras adapter reduces the maps in TensorFlow (channel_values); an adapter without
    # it gives the maps (activations).  Either way: one pass per batch for every layer.
    for method in ("activations", "channel_values"):
        original = getattr(adapter, method, None)
        if original is None:
            continue

        def counting(inputs, names, *rest, original=original):
            passes.append(tuple(names))
            return original(inputs, names, *rest)

        monkeypatch.setattr(adapter, method, counting)
    stream = uneven_batches(images, labels, [64] * 4 + [44])  # a generator: one pass only
    result = top_activations(model, stream, ["conv2d", "conv2d_1", "dense"], k=3, progress=False)
    assert list(result) == ["conv2d", "conv2d_1", "dense"]
    assert len(passes) == 5
    assert all(set(names) == {"conv2d", "conv2d_1", "dense"} for names in passes)
    for name, top in result.items():
        assert_matches(top, brute_force(model, images, name, 3), rtol=1e-5)


def test_fewer_images_than_k_gives_all_of_them(model, data):
    images, _ = data
    result = top_activations(model, images[:5], "conv2d", k=9, progress=False)
    assert result.indices.shape == result.values.shape == (32, 5)
    assert_matches(result, brute_force(model, images[:5], "conv2d", 9))


def test_preprocess_maps_display_images(model, data):
    images, _ = data
    display = (images * 255).round().astype(np.uint8)
    result = top_activations(
        model, display, "conv2d_1", k=4, preprocess=lambda b: b / np.float32(255), progress=False
    )
    assert_matches(result, brute_force(model, display / np.float32(255), "conv2d_1", 4))


def test_merge_is_the_top_k_of_the_union_with_ties_and_nan():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4, size=(5, 40)).astype(np.float32)  # many exact ties
    values[rng.random(values.shape) < 0.1] = np.nan
    values[0, :3] = [-0.0, 0.0, -0.0]
    indices = np.broadcast_to(rng.permutation(1000)[:40], values.shape)

    def reference(k):
        # NaN ranks as -inf: below every number, tied with -inf (then by index).
        ranked = np.where(np.isnan(values), -np.inf, values)
        order = np.array(
            [
                sorted(range(40), key=lambda j, c=c: (-ranked[c, j], indices[c, j]))[:k]
                for c in range(5)
            ]
        )
        return np.take_along_axis(indices, order, 1), np.take_along_axis(values, order, 1)

    parts = [TopActivations(indices[:, s], values[:, s]) for s in np.split(np.arange(40), [7, 25])]
    for k in (1, 6, 40, 50):
        want_indices, want_values = reference(k)
        whole = merge_top(TopActivations(indices, values), k=k)
        pieces = merge_top(*(merge_top(p, k=k) for p in parts[::-1]), k=k)
        for got in (whole, pieces):
            np.testing.assert_array_equal(got.indices, want_indices)
            np.testing.assert_array_equal(got.values, want_values)


@pytest.mark.parametrize("shape", [(5, 26, 26, 32), (3, 7, 5, 4), (2, 1, 1, 3), (4, 13, 2)])
def test_channel_values_are_the_mean_and_max_over_positions(shape):
    maps = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    axes = tuple(range(1, len(shape) - 1))
    mean = channel_values(maps)
    assert mean.dtype == np.float32
    assert mean.shape == (shape[0], shape[-1])
    np.testing.assert_allclose(mean, maps.astype(np.float64).mean(axis=axes), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(channel_values(maps, "max"), maps.max(axis=axes))
    dense = maps.reshape(shape[0], -1)
    np.testing.assert_array_equal(channel_values(dense), dense)


LAYERS = ["conv2d", "max_pooling2d", "conv2d_1", "flatten", "dense", "dense_1"]


def assert_channel_values(got, acts, reduce):
    """The adapter's values against numpy on the full activations: float64 mean, exact max."""
    assert got.dtype == np.float32
    axes = tuple(range(1, acts.ndim - 1))
    if reduce == "max" or acts.ndim == 2:
        np.testing.assert_array_equal(got, acts.max(axis=axes) if axes else acts)
    else:
        # Float32 round-off, of the values summed where signs cancel.
        scale = float(np.nanmax(np.abs(acts)))
        want = acts.astype(np.float64).mean(axis=axes)
        np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-7 * scale)
        np.testing.assert_allclose(got, channel_values(acts), rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_keras_channel_values_equal_numpy_on_the_activations(model, data, reduce):
    # The maps never leave TensorFlow: only (N, C) per layer, from one pass.
    # Against the activations of the same batch: a layer's output for an image may differ
    # in the last bit with the batch it is computed in (oneDNN picks by batch size).
    images, _ = data
    adapter = adapter_for(model)
    for batch in (images[:130], images[:1], images[130:195]):
        acts = adapter.activations([batch], LAYERS)
        got = adapter.channel_values([batch], LAYERS, reduce)
        assert list(got) == LAYERS
        for name in LAYERS:
            assert got[name].shape == (len(batch), acts[name].shape[-1]), name
            assert_channel_values(got[name], acts[name], reduce)


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_keras_channel_values_of_1d_3d_and_unsized_maps(keras, reduce):
    rng = np.random.default_rng(8)
    cases = []
    x = keras.Input((40, 3))
    cases.append((keras.Model(x, keras.layers.Conv1D(5, 3, name="c")(x)), (40, 3)))
    x = keras.Input((6, 7, 5, 2))
    cases.append((keras.Model(x, keras.layers.Conv3D(4, 2, name="c")(x)), (6, 7, 5, 2)))
    x = keras.Input((None, None, 3))  # the pass is traced per input size: 9x11, then 16x5
    cases.append((keras.Model(x, keras.layers.Conv2D(6, 3, name="c")(x)), (9, 11, 3)))
    cases.append((cases[-1][0], (16, 5, 3)))
    for net, shape in cases:
        images = rng.standard_normal((7, *shape)).astype(np.float32)
        images[2, 1] = np.nan  # a NaN reaches image 2's maps: its mean and max are NaN
        adapter = adapter_for(net)
        acts = adapter.activations([images], ["c"])["c"]
        got = adapter.channel_values([images], ["c"], reduce)["c"]
        assert np.isnan(got[2]).any()
        assert not np.isnan(np.delete(got, 2, axis=0)).any()
        assert_channel_values(got, acts, reduce)


def test_nan_images_rank_last_and_ties_keep_index_order(keras, data):
    # Linear layers carry a NaN image's NaN into all its values (a ReLU would make them 0),
    # ranked as -inf.  Images 0, 7, 50 and 99 are NaN; 10, 30, 31 and 90 are copies of 20,
    # so they tie exactly.  k = 118 of 120 keeps two of the NaN images, the first by index.
    x = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(8, 3, name="conv")(x)
    net = keras.Model(x, keras.layers.Dense(6, name="fc")(keras.layers.Flatten()(h)))
    images, _ = data
    images = images[:120].copy()
    images[[0, 7, 50, 99]] = np.nan
    images[[10, 30, 31, 90]] = images[20]
    for name in ("conv", "fc"):
        result = top_activations(net, images, name, k=118, batch_size=16, progress=False)
        sub = keras.Model(net.inputs, net.get_layer(name).output)
        acts = sub.predict(images, verbose=0)
        values = acts.astype(np.float64).mean(axis=(1, 2)) if acts.ndim == 4 else acts
        values = np.where(np.isnan(values), -np.inf, values).astype(np.float32)
        # Copies of one image tie by definition.  ``predict``'s batched kernels may round
        # them differently by their place in the batch (seen on a machine with AVX2 only),
        # so the reference takes image 20's value for its copies.
        values[[10, 30, 31, 90]] = values[20]
        indices, _ = ranked(values, 118)
        np.testing.assert_array_equal(result.indices, indices)
        np.testing.assert_array_equal(result.indices[:, -2:], [[0, 7]] * len(indices))
        assert np.isnan(result.values[:, -2:]).all()
        assert not np.isnan(result.values[:, :-2]).any()


def test_merging_every_few_batches_or_after_each_gives_the_same(model, data, monkeypatch):
    from cnnviz_widget.methods import dataset

    images, _ = data
    want = brute_force(model, images, "conv2d", 6)
    steps = list(iter_top_activations(model, images, "conv2d", k=6, batch_size=8))
    for step in steps[::9]:  # each step is the best of the images scanned so far
        assert_matches(step.result, brute_force(model, images[: step.done], "conv2d", 6))
    for pending in (1, 100, 2**16):  # values held between merges
        monkeypatch.setattr(dataset, "PENDING_VALUES", pending)
        result = top_activations(model, images, "conv2d", k=6, batch_size=8, progress=False)
        assert_matches(result, want)
        np.testing.assert_array_equal(result.values, steps[-1].result.values)


# ------------------------------------------------------------------------------ progress
def test_progress_callable_counts_images(model, data):
    images, labels = data
    calls = []
    top_activations(model, images, "conv2d", k=2, progress=lambda *a: calls.append(a))
    assert calls == [(n, 300) for n in (64, 128, 192, 256, 300)]
    calls.clear()
    stream = uneven_batches(images, labels, [100, 200])
    top_activations(model, stream, "conv2d", k=2, progress=lambda *a: calls.append(a))
    assert calls == [(100, None), (300, None)]


def test_progress_bar_with_tqdm(model, data, capsys):
    pytest.importorskip("tqdm")
    top_activations(model, data[0], "conv2d", k=2, progress=True)
    assert "top_activations" in capsys.readouterr().err
    top_activations(model, data[0], "conv2d", k=2, progress=False)
    assert capsys.readouterr().err == ""


def test_streaming_steps_improve_and_end_at_the_result(model, data):
    images, _ = data
    steps = list(iter_top_activations(model, images, "conv2d_1", k=8, batch_size=32))
    assert all(isinstance(step, ScanProgress) for step in steps)
    assert [step.done for step in steps] == [*range(32, 300, 32), 300]
    for earlier, later in itertools.pairwise(steps):
        # The r-th best value of a channel can only go up as more images are seen.
        assert (later.result.values >= earlier.result.values).all()
    final = top_activations(model, images, "conv2d_1", k=8, batch_size=32, progress=False)
    np.testing.assert_array_equal(steps[-1].result.indices, final.indices)


def test_should_stop_cancels_between_batches(model, data):
    images, labels = data
    pulled = []

    def stream():
        for batch in uneven_batches(images, labels, [50] * 6):
            pulled.append(len(batch[0]))
            yield batch

    with pytest.raises(Cancelled):
        top_activations(
            model, stream(), "conv2d", progress=False, should_stop=lambda: len(pulled) >= 2
        )
    assert len(pulled) == 2


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_k_below_one_is_refused(model, data, k):
    with pytest.raises(ValueError, match=f"k must be a positive int, got {k!r}"):
        top_activations(model, data[0], "conv2d", k=k)


def test_empty_datasets_are_refused(model, data):
    images, _ = data
    with pytest.raises(ValueError, match=r"empty: received an array of shape \(0, 28, 28, 1\)"):
        top_activations(model, images[:0], "conv2d")
    with pytest.raises(ValueError, match="empty: the iterable yielded no images"):
        top_activations(model, iter([]), "conv2d")
    with pytest.raises(ValueError, match="empty: the iterable yielded no images"):
        top_activations(model, [(images[:0], None)], "conv2d")


def test_batches_of_mixed_shapes_are_refused(model, data):
    images, _ = data
    stream = [images[:4], images[4:8], np.zeros((4, 32, 32, 1), np.float32)]
    with pytest.raises(ValueError, match=r"mixed shapes: batch 2 .*\(32, 32, 1\).*\(28, 28, 1\)"):
        top_activations(model, stream, "conv2d", progress=False)


def test_images_the_model_does_not_take_are_refused(model):
    with pytest.raises(ValueError, match=r"received an array of shape \(1, 32, 32, 3\)"):
        top_activations(model, np.zeros((10, 32, 32, 3), np.float32), "conv2d")


def test_unknown_layer_is_the_key_error_naming_close_matches(model, data):
    with pytest.raises(KeyError, match="Did you mean: 'conv2d'"):
        top_activations(model, data[0], "conv2dd")


def test_unknown_reduce_and_dict_batches_are_refused(model, data):
    with pytest.raises(ValueError, match="reduce must be one of"):
        top_activations(model, data[0], "conv2d", reduce="median")
    with pytest.raises(TypeError, match="is a dict"):
        top_activations(model, [{"image": data[0]}], "conv2d")


def test_client_without_dask_names_the_extra(tmp_path):
    # sys.modules["dask"] = None makes `import dask` (and distributed's) raise ImportError.
    script = textwrap.dedent(
        """
        import sys
        sys.modules["dask"] = None
        from cnnviz_widget.data import digits, digits_cnn
        from cnnviz_widget.methods.dataset import top_activations
        model, images = digits_cnn(), digits(20)[0]
        print("local", top_activations(model, images, "conv2d", k=3, progress=False).indices.shape)
        try:
            top_activations(model, images, "conv2d", client=object())
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "local (32, 3)" in out
    assert "ImportError: top_activations(client=...) needs Dask" in out
    assert 'pip install "cnnviz-widget[dask]"' in out


# -------------------------------------------------------------------------------- memory
def augmented_digits(n, batch_size=100):
    """``n`` images from the 1,000 held-out digits, each pass shifted by one more pixel."""
    base, _ = digits(1000)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        shift = rows // len(base)
        batch = np.stack(
            [np.roll(base[i % len(base)], s, axis=1) for i, s in zip(rows, shift, strict=True)]
        )
        yield batch, None


def test_memory_stays_bounded_by_a_batch_whatever_the_dataset_size(model):
    layers = ["conv2d_1", "dense"]
    top_activations(model, augmented_digits(200), layers, progress=False)  # warm: tracing
    peaks = {}
    tracemalloc.start()
    try:
        for n in (5_000, 20_000):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = top_activations(model, augmented_digits(n), layers, progress=False)
            peaks[n] = tracemalloc.get_traced_memory()[1] - before
            assert result["dense"].indices.max() >= n - 1000  # the scan did reach the end
    finally:
        tracemalloc.stop()
    # Keeping every value of the 164 channels would add 15,000 * 164 * 4 bytes = 9.8 MB for
    # the 15,000 more images; what the scan holds beyond one batch is the C * k best.
    more_values = (20_000 - 5_000) * (64 + 100) * 4
    assert peaks[20_000] - peaks[5_000] < more_values / 20, peaks
    assert peaks[20_000] < 1.25 * peaks[5_000], peaks
