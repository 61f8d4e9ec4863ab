"""The data-flow graph of a Keras 3 model, read from its functional graph.

A Functional model (and a Sequential, through the Functional it builds for itself) records
every call as a ``Node``: its operation, its input tensors, and through each tensor's
``_keras_history`` the node that produced it.  ``_nodes_by_depth`` holds the nodes of this
model's graph (a layer may also have nodes from other models it was used in).  These are
the same private structures ``Functional._run_through_graph`` runs on, which the adapter
relies on already (tests/test_keras_internals.py).

A nested model is a group: its inner layers are nodes whose ``parent`` is the nested
model's name, and the outer producers connect to its first inner layers (its input layers
for a Functional; the layers that read the input of a Sequential, whose input layer is no
listed layer), its last inner layers to the outer consumers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from .._layers import LayerInfo, kind_of
from ..graph import GraphBuilder, GraphNode, call_id, call_label

_SEP = "/"

#: A producer is a node id, or ("input", i): the i-th input of the model being read, which
#: the caller connects (a nested model's inputs come from the outer graph).
Producer = str | tuple[str, int]


def keras_graph(
    model: Any, layers: Sequence[LayerInfo]
) -> tuple[list[GraphNode], list[tuple[str, str]], str]:
    """``(nodes, edges, note)`` of a built Keras model; ``layers`` as ``list_layers`` gives."""
    reader = _Reader({info.name: info for info in layers})
    reader.read(model, prefix="", parent=None)
    return reader.graph.nodes, reader.graph.edges, "; ".join(dict.fromkeys(reader.notes))


def _graph_of(model: Any) -> Any | None:
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_run_through_graph"):
        return model
    return None


def _shape(tensor: Any) -> tuple[int | None, ...] | None:
    shape = getattr(tensor, "shape", None)
    if shape is None:
        return None
    return (None, *(None if d is None else int(d) for d in tuple(shape)[1:]))


class _Reader:
    def __init__(self, listed: dict[str, LayerInfo]) -> None:
        self.listed = listed
        self.graph = GraphBuilder(listed)
        self.notes: list[str] = []
        # Nested models already read: name -> (consumers of each input, producer of each
        # output).  A nested model called twice is drawn once, fed by both calls.
        self._groups: dict[str, tuple[list[list[str]], list[list[Producer]]]] = {}
        self._calls: dict[str, int] = {}

    # ------------------------------------------------------------------ nodes
    def _layer_node(self, layer: Any, name: str, parent: str | None, output: Any) -> str:
        """A node for one call of ``layer`` (listed or not), returning its id."""
        call = self._calls.get(name, 0) + 1
        self._calls[name] = call
        info = self.listed.get(name)
        is_layer = isinstance(layer, keras.layers.Layer)
        type_name = type(layer).__name__
        node_id = name if call == 1 else self.graph.fresh_id(call_id(name, call))
        if call == 1 and (info is None or self.graph.has(name)):
            node_id = self.graph.fresh_id(name)
        return self.graph.add(
            GraphNode(
                id=node_id,
                label=call_label(layer.name, call),
                type=type_name if is_layer else f"ops.{type_name}",
                layer=info.name if info is not None else None,
                parent=parent,
                output_shape=info.output_shape if info is not None else _shape(output),
                kind=info.kind if info is not None else kind_of(type_name),
            )
        )

    # ------------------------------------------------------------------ models
    def read(
        self, model: Any, prefix: str, parent: str | None
    ) -> tuple[list[list[str]], list[list[Producer]]]:
        """Draw ``model``'s layers; return the consumers of each input, producers of each output.

        A top-level model keeps its input layers as nodes; a nested one whose input layer is
        no listed layer (a nested Sequential) passes its inputs straight to their readers.
        """
        graph = _graph_of(model)
        if graph is None:
            return self._read_chain(model, prefix, parent)
        n_inputs = len(graph.inputs)
        consumers: list[list[str]] = [[] for _ in range(n_inputs)]
        made: dict[int, list[list[Producer]]] = {}  # id(keras Node) -> producers per output

        def connect(sources: list[Producer], target: str) -> None:
            for source in sources:
                if isinstance(source, tuple):
                    consumers[source[1]].append(target)
                else:
                    self.graph.connect(source, target)

        def producers(tensor: Any) -> list[Producer]:
            operation, node_index, tensor_index = tensor._keras_history
            found = made.get(id(operation._inbound_nodes[node_index]))
            if found is None:  # not produced inside this graph: cannot happen in a valid one
                return []
            return found[min(tensor_index, len(found) - 1)]

        # Inputs first, in model.inputs order; then every call, producers before consumers
        # (decreasing depth), ties in the model's own layer order.
        for position, tensor in enumerate(graph.inputs):
            operation, node_index, _ = tensor._keras_history
            name = prefix + operation.name
            node = operation._inbound_nodes[node_index]
            if parent is None or name in self.listed:
                node_id = self._layer_node(operation, name, parent, tensor)
                consumers[position].append(node_id)
                made[id(node)] = [[node_id]]
            else:
                made[id(node)] = [[("input", position)]]
        order = {id(operation): i for i, operation in enumerate(graph.operations)}
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            calls = sorted(graph._nodes_by_depth[depth], key=lambda n: order[id(n.operation)])
            for node in calls:
                operation = node.operation
                name = prefix + operation.name
                if id(node) in made:  # an input layer, drawn above
                    continue
                if isinstance(operation, keras.Model):
                    inner_consumers, inner_producers = self._read_group(operation, name, parent)
                    for i, tensor in enumerate(node.input_tensors):
                        for target in inner_consumers[min(i, len(inner_consumers) - 1)]:
                            connect(producers(tensor), target)
                    made[id(node)] = inner_producers
                    continue
                outputs = node.outputs
                node_id = self._layer_node(
                    operation, name, parent, outputs[0] if len(outputs) == 1 else None
                )
                for tensor in node.input_tensors:
                    connect(producers(tensor), node_id)
                made[id(node)] = [[node_id]] * max(1, len(outputs))

        results = [producers(tensor) for tensor in graph.outputs]
        return consumers, results

    def _read_group(
        self, model: Any, name: str, parent: str | None
    ) -> tuple[list[list[str]], list[list[Producer]]]:
        if name in self._groups:
            return self._groups[name]
        info = self.listed.get(name)
        self.graph.add(
            GraphNode(
                id=name if info is not None else self.graph.fresh_id(name),
                label=model.name,
                type=type(model).__name__,
                layer=info.name if info is not None else None,
                parent=parent,
                output_shape=info.output_shape if info is not None else None,
                kind="model",
            )
        )
        group_id = self.graph.nodes[-1].id
        inner_consumers, inner_producers = self.read(model, name + _SEP, group_id)
        # The nested model's inputs pass through its (folded) input layers straight to the
        # inner layers that read them; outputs produced by those inputs directly (an
        # identity model) are left to their readers.
        resolved: list[list[Producer]] = [
            [p for p in sources if not isinstance(p, tuple)] for sources in inner_producers
        ]
        self._groups[name] = (inner_consumers, resolved)
        return inner_consumers, resolved

    def _read_chain(
        self, model: Any, prefix: str, parent: str | None
    ) -> tuple[list[list[str]], list[list[Producer]]]:
        """A model without a graph: a Sequential is a chain; anything else has no edges."""
        layers = list(model.layers)
        is_chain = isinstance(model, keras.Sequential)
        if not is_chain:
            self.notes.append(
                f"{model.name!r} is a subclassed model: its layers are drawn without "
                "connections, which only its call() code knows"
            )
        first: list[str] = []
        previous: list[Producer] = []
        for layer in layers:
            name = prefix + layer.name
            if isinstance(layer, keras.Model):
                inner_consumers, inner_producers = self._read_group(layer, name, parent)
                entry, exits = (
                    (inner_consumers[0] if inner_consumers else []),
                    (inner_producers[0] if inner_producers else []),
                )
            else:
                node_id = self._layer_node(layer, name, parent, None)
                entry, exits = [node_id], [node_id]
            if not is_chain:
                continue
            if not first:
                first = list(entry)
            for source in previous:
                for target in entry:
                    self.graph.connect(str(source), target)
            previous = list(exits)
        return [first], [previous]
