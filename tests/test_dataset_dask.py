"""top_activations on a real dask.distributed LocalCluster with two worker processes.

Partitions are scored in other processes, on a model that travelled as a ``.keras`` archive
(loaded in safe mode) or a torch ``state_dict`` (``weights_only``); the merged result must be
exactly the local run's, and the local run equals the brute-force reference of
``test_dataset.py``.  Starting the workers (each imports TensorFlow on its first task) takes
a while, so one cluster serves the whole module.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_dataset import assert_matches, brute_force, uneven_batches

from cnnviz_widget.adapters.portable import NotPortableError, export_model
from cnnviz_widget.data import digits, digits_cnn
from cnnviz_widget.methods import Cancelled
from cnnviz_widget.methods.dataset import top_activations

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def model(keras):
    return digits_cnn()


@pytest.fixture(scope="module")
def data():
    return digits(1000)


def assert_same(cluster, local):
    if isinstance(local, dict):
        assert list(cluster) == list(local)
        for name in local:
            assert_same(cluster[name], local[name])
        return
    np.testing.assert_array_equal(cluster.indices, local.indices)
    np.testing.assert_array_equal(cluster.values, local.values)


def worker_loads(client, model):
    """How often each worker loaded ``model``."""
    digest = export_model(model).digest

    def loads():
        from cnnviz_widget.methods import dataset

        return dataset.worker_loads[digest]

    return client.run(loads)


def test_array_on_the_cluster_is_exactly_the_local_run(client, model, data):
    images, _ = data
    layers = ["conv2d", "conv2d_1", "dense"]
    # batch 50, so partitions of 8 batches (400 images): three of them, the last one short.
    calls = []
    on_cluster = top_activations(
        model,
        images,
        layers,
        k=9,
        batch_size=50,
        client=client,
        progress=lambda *a: calls.append(a),
    )
    local = top_activations(model, images, layers, k=9, batch_size=50, progress=False)
    assert_same(on_cluster, local)
    assert_matches(on_cluster["conv2d_1"], brute_force(model, images, "conv2d_1", 9), rtol=1e-5)
    done = [0, *(count for count, _ in calls)]
    assert sorted(np.diff(done)) == [200, 400, 400]  # partitions finish in any order
    assert {total for _, total in calls} == {1000}
    assert all(count <= 1 for count in worker_loads(client, model).values())


def test_dask_array_blocks_are_scored_on_the_workers(client, model, data):
    images, _ = data
    stack = da.from_array(images, chunks=(130, 14, 28, 1))
    on_cluster = top_activations(model, stack, "conv2d_1", k=5, client=client, progress=False)
    local = top_activations(model, stack, "conv2d_1", k=5, progress=False)
    assert_same(on_cluster, local)
    assert_matches(local, brute_force(model, images, "conv2d_1", 5), rtol=1e-5)


def test_stream_of_xy_batches_on_the_cluster(client, model, data):
    images, labels = data
    sizes = [3, 97, 64, 200, 1, 135, *[50] * 10]
    on_cluster = top_activations(
        model, uneven_batches(images, labels, sizes), "dense", k=4, client=client, progress=False
    )
    local = top_activations(
        model, uneven_batches(images, labels, sizes), "dense", k=4, progress=False
    )
    assert_same(on_cluster, local)


def test_each_worker_loads_the_model_once(client, model, data):
    images, _ = data
    for _ in range(2):
        top_activations(model, images[:200], "conv2d", batch_size=20, client=client, progress=False)
    loads = worker_loads(client, model)
    assert len(loads) == 2
    assert all(count <= 1 for count in loads.values()), loads
    assert sum(loads.values()) >= 1


def test_should_stop_cancels_the_queued_partitions(client, model, data):
    images, _ = data
    with pytest.raises(Cancelled):
        top_activations(
            model, images, "conv2d", batch_size=10, client=client, should_stop=lambda: True
        )


def test_a_lambda_layer_is_refused_before_anything_is_sent(client, keras):
    x = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(4, 3, name="conv")(x)
    h = keras.layers.Lambda(lambda t: t * 2.0, name="double")(h)
    lambda_model = keras.Model(x, keras.layers.Flatten()(h))
    with pytest.raises(NotPortableError, match=r"Lambda layer \('double'\).*safe mode"):
        top_activations(lambda_model, digits(8)[0], "conv", client=client)


def test_an_unregistered_custom_layer_is_refused(client, keras):
    class Doubling(keras.layers.Layer):
        def call(self, t):
            return t * 2.0

    x = keras.Input((28, 28, 1))
    h = Doubling(name="double")(keras.layers.Conv2D(4, 3, name="conv")(x))
    custom = keras.Model(x, keras.layers.Flatten()(h))
    with pytest.raises(NotPortableError, match=r"Doubling.*not registered"):
        top_activations(custom, digits(8)[0], "conv", client=client)


def test_torch_model_travels_as_its_state_dict(client):
    torch = pytest.importorskip("torch")
    from _torch_models import skip_net

    model = skip_net()  # the class is importable on the workers, built without arguments
    images = torch.randn(120, 3, 12, 12, generator=torch.Generator().manual_seed(5))
    layers = ["conv1", "block.2", "fc"]
    on_cluster = top_activations(model, images, layers, k=6, batch_size=16, client=client)
    local = top_activations(model, images, layers, k=6, batch_size=16, progress=False)
    assert_same(on_cluster, local)


def test_torch_models_a_worker_cannot_rebuild_are_refused(client):
    torch = pytest.importorskip("torch")
    with pytest.raises(NotPortableError, match="constructor arguments"):
        export_model(torch.nn.Conv2d(3, 4, 3))
    # nn.Sequential() builds, but an empty model: the weights would not fit it.
    stack = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(NotPortableError, match=r"Sequential\(\) builds a model whose weights"):
        top_activations(stack, torch.zeros(2, 3, 8, 8), "0", client=client)
