"""model_graph: the edges are the model's real connections.

Every expected edge set is written out here from the model's own structure: by hand from
the layer list or the ``forward`` code, or (Keras) from each layer's ``_inbound_nodes``,
which the graph reader does not use (it walks ``_nodes_by_depth`` and ``_keras_history``).
The fixture graphs the TypeScript layout tests read (``js/src/fixtures/graph_*.json``) are
written by the last tests from real models.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnviz_widget import activations, list_layers
from cnnviz_widget.graph import GraphNode, ModelGraph, model_graph

FIXTURES = Path(__file__).resolve().parent.parent / "js" / "src" / "fixtures"


def edges(graph: ModelGraph) -> set[tuple[str, str]]:
    assert len(set(graph.edges)) == len(graph.edges), "an edge is listed twice"
    return set(graph.edges)


def chain(*names: str) -> set[tuple[str, str]]:
    return set(itertools.pairwise(names))


def inputs_of(graph: ModelGraph) -> list[GraphNode]:
    return [node for node in graph.nodes if node.kind == "input"]


def check_nodes_resolve(
    model: Any, graph: ModelGraph, example: Any = None, *, every_layer: bool = False
) -> None:
    """Every layer node resolves with list_layers; every listed layer that runs has a node.

    The torch adapter lists the later calls of a module (``relu#2``) once it has run the
    model: ``example`` makes it run.
    """
    if example is not None:
        activations(model, example, [next(iter(list_layers(model))).name])
    names = {info.name for info in list_layers(model)}
    ids = [node.id for node in graph.nodes]
    assert len(ids) == len(set(ids)), "two nodes share an id"
    for node in graph.nodes:
        if node.layer is not None:
            assert node.layer in names, node
    with_node = {node.id for node in graph.nodes if node.layer == node.id}
    assert with_node <= names
    if every_layer:  # a Keras layer list holds exactly the layers the graph runs
        assert with_node == names
    ends = {end for edge in graph.edges for end in edge}
    assert ends <= set(ids)
    parents = {node.parent for node in graph.nodes} - {None}
    groups = {node.id for node in graph.nodes if node.kind == "model"}
    assert parents <= groups


# ----------------------------------------------------------------------- Keras


def keras_edges(model: Any, prefix: str = "") -> set[tuple[str, str]]:
    """Connections as each layer's own inbound nodes record them (layers used once)."""
    found = set()
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for parent in node.parent_nodes:
                found.add((prefix + parent.operation.name, prefix + layer.name))
    return found


SMALL_CNN = ("conv_a", "pool_a", "conv_b", "flat", "probs")


def test_sequential_with_input_is_a_chain(seq_with_input):
    graph = model_graph(seq_with_input)
    [entry] = inputs_of(graph)
    # A Sequential does not list its input layer: the node is drawn, but is no layer.
    assert entry.layer is None
    assert entry.output_shape == (None, 28, 28, 1)
    assert edges(graph) == chain(entry.id, *SMALL_CNN)
    assert [node.id for node in graph.nodes] == [entry.id, *SMALL_CNN]
    assert graph.source == "keras"
    assert graph.note == ""
    check_nodes_resolve(seq_with_input, graph, every_layer=True)


@pytest.mark.parametrize("fixture", ["seq_first_call", "seq_input_shape"])
def test_sequential_built_without_input(request, fixture):
    model = request.getfixturevalue(fixture)
    graph = model_graph(model)
    [entry] = inputs_of(graph)
    assert edges(graph) == chain(entry.id, *SMALL_CNN)
    check_nodes_resolve(model, graph, every_layer=True)


def test_sequential_never_built_is_built_from_images(keras, digits_like):
    layers = [
        keras.layers.Conv2D(4, 3, name="conv_a"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="probs"),
    ]
    model = keras.Sequential(layers)
    with pytest.raises(ValueError, match="never been built"):
        model_graph(model)
    graph = model_graph(model, digits_like)
    [entry] = inputs_of(graph)
    assert edges(graph) == chain(entry.id, "conv_a", "flat", "probs")
    assert graph.node("conv_a").output_shape == (None, 26, 26, 4)


def test_functional_skip_connection(functional):
    graph = model_graph(functional)
    expected = {
        ("image", "conv_a"),
        ("conv_a", "conv_b"),
        ("conv_b", "bn"),
        ("conv_a", "add"),  # the skip
        ("bn", "add"),
        ("add", "relu"),
        ("relu", "gap"),
        ("gap", "drop"),
        ("drop", "probs"),
    }
    assert edges(graph) == expected
    assert edges(graph) == keras_edges(functional)
    node = graph.node("add")
    assert (node.layer, node.type, node.kind) == ("add", "Add", "merge")
    assert graph.node("image").layer == "image"  # a functional model lists its input
    check_nodes_resolve(functional, graph, every_layer=True)


def test_two_inputs(two_inputs):
    graph = model_graph(two_inputs)
    assert [node.id for node in inputs_of(graph)] == ["grey", "colour"]
    assert edges(graph) == {
        ("grey", "conv_grey"),
        ("colour", "conv_colour"),
        ("conv_grey", "gmp_grey"),
        ("conv_colour", "gmp_colour"),
        ("gmp_grey", "concat"),
        ("gmp_colour", "concat"),
        ("concat", "logits"),
    }
    assert edges(graph) == keras_edges(two_inputs)
    check_nodes_resolve(two_inputs, graph, every_layer=True)


def test_several_outputs(keras):
    x = keras.Input((8,), name="x")
    trunk = keras.layers.Dense(4, name="trunk")(x)
    a = keras.layers.Dense(2, name="head_a")(trunk)
    b = keras.layers.Dense(3, name="head_b")(trunk)
    model = keras.Model(x, [a, b])
    graph = model_graph(model)
    assert edges(graph) == {("x", "trunk"), ("trunk", "head_a"), ("trunk", "head_b")}


def vgg_like(keras):
    """A VGG-like feature extractor inside a classifier, every name given."""
    inner_input = keras.Input((32, 32, 3), name="vgg_input")
    x = inner_input
    for block in (1, 2):
        for conv in (1, 2):
            conv_layer = keras.layers.Conv2D(
                4 * block, 3, padding="same", activation="relu", name=f"block{block}_conv{conv}"
            )
            x = conv_layer(x)
        x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
    features = keras.Model(inner_input, x, name="features")
    image = keras.Input((32, 32, 3), name="image")
    y = features(image)
    y = keras.layers.Flatten(name="flat")(y)
    y = keras.layers.Dense(10, activation="softmax", name="probs")(y)
    return keras.Model(image, y, name="vgg_like")


VGG_LIKE_INNER = (
    "vgg_input",
    "block1_conv1",
    "block1_conv2",
    "block1_pool",
    "block2_conv1",
    "block2_conv2",
    "block2_pool",
)


def test_nested_model_is_a_group(keras):
    model = vgg_like(keras)
    graph = model_graph(model)
    inner = [f"features/{name}" for name in VGG_LIKE_INNER]
    assert edges(graph) == {("image", inner[0])} | chain(*inner) | chain(inner[-1], "flat", "probs")
    assert edges(graph) - {("image", inner[0]), (inner[-1], "flat"), ("flat", "probs")} == (
        keras_edges(model.get_layer("features"), prefix="features/")
    )
    group = graph.node("features")
    assert (group.layer, group.kind, group.parent) == ("features", "model", None)
    assert [node.id for node in graph.nodes if node.parent == "features"] == inner
    # The group box itself takes no edges: data flows into and out of its members.
    assert not any("features" in edge for edge in graph.edges)
    check_nodes_resolve(model, graph, every_layer=True)


def test_nested_vgg16(nested_vgg):
    graph = model_graph(nested_vgg)
    vgg = nested_vgg.layers[0]
    inner = [f"{vgg.name}/{layer.name}" for layer in vgg.layers]  # VGG16 is one chain
    [entry] = [node for node in inputs_of(graph) if node.parent is None]
    assert edges(graph) == (
        {(entry.id, inner[0])} | chain(*inner) | chain(inner[-1], "flat", "probs")
    )
    assert chain(*inner) == keras_edges(vgg, prefix=f"{vgg.name}/")
    layers = list_layers(nested_vgg)
    members = [info.name for info in layers if info.parent == vgg.name]
    assert [node.id for node in graph.nodes if node.parent == vgg.name] == members
    assert len(graph.nodes) == len(layers) + 1  # plus the Sequential's own input
    check_nodes_resolve(nested_vgg, graph, every_layer=True)


def test_nested_sequential_passes_its_input_through(keras):
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")],
        name="inner",
    )
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(1, name="head")(inner(x)))
    graph = model_graph(model)
    # The inner Sequential's input layer is no listed layer: x feeds inner/d1 directly.
    assert edges(graph) == {("x", "inner/d1"), ("inner/d1", "inner/d2"), ("inner/d2", "head")}
    check_nodes_resolve(model, graph, every_layer=True)


def test_keras_ops_are_operation_nodes(keras):
    x = keras.Input((8, 8, 1), name="image")
    a = keras.layers.Conv2D(2, 3, padding="same", name="conv_a")(x)
    b = keras.layers.Conv2D(2, 3, padding="same", name="conv_b")(x)
    summed = keras.ops.relu(keras.ops.add(a, b))
    out = keras.layers.Dense(1, name="head")(keras.layers.Flatten(name="flat")(summed))
    model = keras.Model(x, out)
    graph = model_graph(model)
    ops = [node for node in graph.nodes if node.layer is None]
    assert [node.label for node in ops] == ["add", "relu"]
    add, relu = (node.id for node in ops)
    assert edges(graph) == {
        ("image", "conv_a"),
        ("image", "conv_b"),
        ("conv_a", add),
        ("conv_b", add),
        (add, relu),
        (relu, "flat"),
        ("flat", "head"),
    }
    assert graph.node(add).kind == "merge"
    assert graph.node(add).output_shape == (None, 8, 8, 2)
    check_nodes_resolve(model, graph, every_layer=True)


def test_shared_layer_has_one_node_per_call(keras):
    shared = keras.layers.Dense(4, name="shared")
    x = keras.Input((4,), name="x")
    model = keras.Model(x, shared(shared(x)))
    graph = model_graph(model)
    assert edges(graph) == {("x", "shared"), ("shared", "shared#2")}
    assert graph.node("shared#2").layer == "shared"  # Keras lists the layer once
    check_nodes_resolve(model, graph, every_layer=True)


def test_subclassed_model_is_refused_as_everywhere_else(keras, digits_like):
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.conv = keras.layers.Conv2D(2, 3, name="conv")

        def call(self, x):
            return self.conv(x)

    model = Subclassed()
    model(digits_like[:1])
    # Only call() knows how its layers connect: no edge is guessed, the adapter says why.
    with pytest.raises(TypeError, match="subclassed"):
        model_graph(model)


def test_reading_adds_nothing_to_the_model(functional):
    before = [len(layer._inbound_nodes) for layer in functional.layers]
    model_graph(functional)
    assert [len(layer._inbound_nodes) for layer in functional.layers] == before


def test_to_json_is_plain_data(functional):
    graph = model_graph(functional)
    data = json.loads(json.dumps(graph.to_json()))
    assert set(data) == {"nodes", "edges", "source", "note"}
    assert data["source"] == "keras"
    assert data["edges"] == [list(edge) for edge in graph.edges]
    first = data["nodes"][0]
    assert first == {
        "id": "image",
        "label": "image",
        "type": "InputLayer",
        "layer": "image",
        "parent": None,
        "output_shape": [None, 28, 28, 1],
        "kind": "input",
    }


def test_not_a_model_names_supported_frameworks():
    with pytest.raises(TypeError, match="Keras"):
        model_graph(object())


# ----------------------------------------------------------------------- torch


class SkipNet(nn.Module):
    """A residual block added back with a functional ``+``, then F.relu and torch.flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = self.stem(x)
        x = self.block(x) + x
        x = F.relu(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


SKIPNET_EDGES = {
    ("x", "stem"),
    ("stem", "block.0"),
    ("block.0", "block.1"),
    ("block.1", "block.2"),
    ("block.2", "add"),
    ("stem", "add"),
    ("add", "relu"),
    ("relu", "pool"),
    ("pool", "flatten"),
    ("flatten", "fc"),
}


class Gate(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace ``if x.sum() > 0``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bright = nn.Conv2d(4, 4, 1)
        self.dark = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = self.conv(x)
        if x.sum() > 0:
            h = self.bright(h)
        else:
            h = self.dark(h)
            h += x.mean()  # in place, after an in-place ReLU
        return self.fc(torch.flatten(self.pool(h), 1))


def check_untouched(model: nn.Module, modes: list[bool]) -> None:
    for name, module in model.named_modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs"):
            assert not getattr(module, hooks), f"{hooks} left on {name!r}"
    assert [module.training for module in model.modules()] == modes


def test_torch_functional_add_and_flatten():
    model = SkipNet()
    graph = model_graph(model)
    assert graph.source == "fx"
    assert edges(graph) == SKIPNET_EDGES
    ops = {node.id: node for node in graph.nodes if node.layer is None}
    assert set(ops) == {"x", "add", "relu", "flatten"}
    assert (ops["add"].type, ops["add"].kind) == ("operator.add", "merge")
    assert (ops["relu"].type, ops["flatten"].type) == ("F.relu", "torch.flatten")
    assert ops["x"].kind == "input"
    group = graph.node("block")
    assert (group.layer, group.type, group.kind) == ("block", "Sequential", "model")
    assert [node.id for node in graph.nodes if node.parent == "block"] == [
        "block.0",
        "block.1",
        "block.2",
    ]
    assert graph.node("stem").parent is None
    assert all(node.output_shape is None for node in graph.nodes)  # no images: no shapes


def test_torch_shapes_from_images_are_channels_last():
    model = SkipNet()
    x = torch.randn(2, 3, 12, 10)
    graph = model_graph(model, x)
    with torch.no_grad():
        stem = model.stem(x)
    assert graph.node("stem").output_shape == (None, 12, 10, 8)
    assert tuple(stem.shape) == (2, 8, 12, 10)
    assert graph.node("x").output_shape == (None, 12, 10, 3)
    assert graph.node("flatten").output_shape == (None, 32)
    assert graph.node("fc").output_shape == (None, 5)
    assert edges(graph) == SKIPNET_EDGES


def test_torch_node_ids_resolve_with_list_layers():
    model = SkipNet()
    graph = model_graph(model, torch.randn(1, 3, 8, 8))
    check_nodes_resolve(model, graph)
    leaves = {name for name, m in model.named_modules() if name and not list(m.children())}
    assert leaves <= {node.id for node in graph.nodes}


class SharedRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.conv1(x))))


def test_torch_module_called_twice_has_one_node_per_call():
    model = SharedRelu()
    x = torch.randn(1, 3, 9, 9)
    graph = model_graph(model, x)
    assert edges(graph) == chain("x", "conv1", "relu", "conv2", "relu#2")
    assert graph.node("relu#2").layer == "relu#2"
    assert graph.node("relu#2").output_shape == (None, 5, 5, 4)
    check_nodes_resolve(model, graph, x.numpy())


def test_torch_untraceable_model_is_recorded():
    model = Gate()
    modes = [module.training for module in model.modules()]
    with pytest.raises(ValueError, match="pass images"):
        model_graph(model)
    bright = model_graph(model, torch.ones(2, 3, 6, 6))
    assert bright.source == "recorded"
    assert "torch.fx could not trace" in bright.note
    assert "recorded" in bright.note
    # The path the images took, and the `if` test (sum, >) left out: it feeds no result.
    assert edges(bright) == chain("x", "conv", "bright", "pool", "flatten", "fc")
    assert bright.node("bright").output_shape == (None, 6, 6, 4)
    check_untouched(model, modes)

    dark = model_graph(model, -torch.ones(2, 3, 6, 6))
    mean = next(node.id for node in dark.nodes if node.label == "mean")
    add = next(node.id for node in dark.nodes if node.label == "add_")
    assert edges(dark) == (
        chain("x", "conv", "dark.0", "dark.1", add, "pool", "flatten", "fc")
        | {("x", mean), (mean, add)}
    )
    assert dark.node("dark.1").parent == "dark"
    assert dark.node(add).parent is None  # run by Gate.forward itself
    check_untouched(model, modes)
    check_nodes_resolve(model, dark, -np.ones((1, 3, 6, 6), np.float32))


def test_torch_recording_that_raises_leaves_no_hook():
    model = Gate()
    modes = [module.training for module in model.modules()]
    with pytest.raises(ValueError, match=r"\(1, 5, 6, 6\)"):
        model_graph(model, torch.ones(1, 5, 6, 6))  # conv takes 3 channels
    check_untouched(model, modes)


def test_torch_same_results_traced_or_recorded():
    # SkipNet traces; recording it must give the same graph.
    from cnnviz_widget.adapters._torch_graph import _record

    model = SkipNet()
    x = torch.randn(1, 3, 8, 8)
    traced = model_graph(model, x)
    nodes, recorded = _record(model, [x])
    assert set(recorded) == set(traced.edges)
    assert [n.id for n in nodes] == [n.id for n in traced.nodes]
    assert [n.output_shape for n in nodes] == [n.output_shape for n in traced.nodes]


class Bottleneck(nn.Module):
    """ResNet-50's block, written as torchvision writes it (one ReLU called three times)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4)
            )

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet50Like(nn.Module):
    """ResNet-50's graph (blocks 3, 4, 6, 3) with narrow layers: the size of the real one."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes, stages = width, []
        for i, blocks in enumerate((3, 4, 6, 3)):
            planes = width * 2**i
            layers = [Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * 4
            layers += [Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_resnet50_sized_graph():
    model = ResNet50Like()
    x = torch.randn(1, 3, 64, 64)
    graph = model_graph(model, x)
    boxes = [node for node in graph.nodes if node.kind != "model"]
    groups = [node for node in graph.nodes if node.kind == "model"]
    # input, 4 stem layers, 16 blocks of 10 (3 conv, 3 bn, 3 relu calls, the +), 4
    # downsample (conv, bn), avgpool, flatten, fc
    assert len(boxes) == 1 + 4 + 16 * 10 + 4 * 2 + 3
    assert len(groups) == 4 + 16 + 4
    # Each block: the + adds bn3 and the identity (the block's input, or downsample).
    for stage, blocks in zip(("layer1", "layer2", "layer3", "layer4"), (3, 4, 6, 3), strict=True):
        for b in range(blocks):
            block = f"{stage}.{b}"
            [add] = [n.id for n in graph.nodes if n.parent == block and n.label == "add"]
            sources = {a for a, target in graph.edges if target == add}
            if b == 0:
                assert sources == {f"{block}.bn3", f"{block}.downsample.1"}
            else:
                previous = f"{stage}.{b - 1}.relu#3"
                assert sources == {f"{block}.bn3", previous}
            assert (add, f"{block}.relu#3") in graph.edges
    check_nodes_resolve(model, graph, x.numpy())


# ------------------------------------------------------------ fixtures for vitest


class Inception(nn.Module):
    """Parallel branches (``nn.Sequential`` groups) side by side, concatenated."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU())
        self.branch3 = nn.Sequential(
            nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU()
        )
        self.branch5 = nn.Sequential(
            nn.Conv2d(c, c, 1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, c, 1))
        self.project = nn.Conv2d(4 * c, c, 1)

    def forward(self, x):
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.pool(x)]
        return self.project(torch.cat(branches, 1))


class InceptionNet(nn.Module):
    """Inception blocks inside a stage: groups in groups, with parallel groups inside."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.stage = nn.Sequential(Inception(c), Inception(c))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))

    def forward(self, x):
        return self.head(self.stage(self.stem(x)))


class Interleaved(nn.Module):
    """A container whose layers run with another module between them (enc.0, mid, enc.1):
    no frame can be drawn around its members without taking ``mid`` in."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1))
        self.mid = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.out = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        return self.out(self.enc[1](self.mid(self.enc[0](x))))


def write_fixture(name: str, graph: ModelGraph) -> None:
    """Writes ``js/src/fixtures/graph_<name>.json``; fails once if the copy was stale."""
    path = FIXTURES / f"graph_{name}.json"
    text = json.dumps(graph.to_json(), indent=1) + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"{path.name} was out of date and has been rewritten: commit it")


def test_fixture_graphs_for_the_layout_tests(keras):
    sequential = keras.Sequential(
        [
            keras.Input((28, 28, 1), name="image"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(name="pool_a"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="sequential_cnn",
    )
    x = keras.Input((28, 28, 1), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(x)
    b = keras.layers.Conv2D(8, 3, padding="same", name="conv_b")(a)
    b = keras.layers.BatchNormalization(name="bn")(b)
    merged = keras.layers.ReLU(name="relu")(keras.layers.Add(name="add")([a, b]))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(merged)
    skip = keras.Model(x, keras.layers.Dense(10, name="probs")(pooled), name="skip")
    resnet = model_graph(ResNet50Like(), torch.randn(1, 3, 64, 64))
    assert len(resnet.nodes) == 200  # 176 boxes in 24 groups
    stale = []
    for name, graph in (
        ("sequential", model_graph(sequential)),
        ("skip", model_graph(skip)),
        ("nested", model_graph(vgg_like(keras))),
        ("torch", model_graph(SkipNet(), torch.randn(1, 3, 8, 8))),
        ("resnet", resnet),
        ("inception", model_graph(InceptionNet(), torch.randn(1, 3, 16, 16))),
        ("interleaved", model_graph(Interleaved(), torch.randn(1, 3, 8, 8))),
    ):
        try:
            write_fixture(name, graph)
        except pytest.fail.Exception:
            stale.append(name)
    assert not stale, f"fixtures rewritten (commit them): {stale}"
