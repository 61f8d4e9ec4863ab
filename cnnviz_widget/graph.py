"""The model's real data flow as nodes and edges, for drawing it as a graph.

Keras reads its functional graph; torch traces with ``torch.fx`` and, where tracing fails,
records one forward pass.  The framework modules live in ``adapters/_keras_graph.py`` and
``adapters/_torch_graph.py`` and are imported only when a model of theirs is passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from ._layers import Kind

Source = Literal["keras", "fx", "recorded"]


@dataclass(frozen=True)
class GraphNode:
    """One box of the graph.

    Attributes
    ----------
    id : str
        Unique within the graph.  For a layer it is the layer's ``LayerInfo.name``.
    label : str
        What the box says: the layer's own (last) name, or the operation's name.
    type : str
        The layer's class name, or the operation (``"operator.add"``, ``"torch.flatten"``).
    layer : str or None
        The ``LayerInfo.name`` this box shows, ``None`` for operations that are no layer
        (torch's ``+``, ``torch.flatten``) and inputs that are no listed layer.
    parent : str or None
        Id of the enclosing group (a nested model, a torch container module), ``None`` at
        the top level.
    output_shape : tuple or None
        Output shape, batch axis as ``None``, channels-last as ``LayerInfo`` shows it;
        ``None`` where unknown.
    kind : str
        As ``LayerInfo.kind``: ``input``, ``conv``, ..., ``model`` for a group.
    """

    id: str
    label: str
    type: str
    layer: str | None
    parent: str | None = None
    output_shape: tuple[int | None, ...] | None = None
    kind: Kind = "other"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        return data


@dataclass(frozen=True)
class ModelGraph:
    """The model as boxes and arrows: ``edges`` are ``(from_id, to_id)`` of real data flow.

    Attributes
    ----------
    nodes : tuple of GraphNode
        In forward order (producers before consumers where the model allows); a group comes
        before its members.
    edges : tuple of (str, str)
        Data flow between node ids.  Edges run between the boxes that compute: into a nested
        model's first layers and out of its last ones, never to the group box itself.
    source : {"keras", "fx", "recorded"}
        How the graph was read: the Keras functional graph, a ``torch.fx`` trace, or a
        recorded forward pass (which shows the path the given images took).
    note : str
        What a reader should know about how the graph was obtained ("" when nothing).
    """

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]
    source: Source = "keras"
    note: str = ""
    _by_id: dict[str, GraphNode] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {node.id: node for node in self.nodes})

    def node(self, node_id: str) -> GraphNode:
        """The node with id ``node_id`` (``KeyError`` if there is none)."""
        return self._by_id[node_id]

    def to_json(self) -> dict[str, Any]:
        """Plain lists and dicts, for a synced trait or ``json.dump``."""
        return {
            "nodes": [node.to_json() for node in self.nodes],
            "edges": [[a, b] for a, b in self.edges],
            "source": self.source,
            "note": self.note,
        }


def model_graph(model: Any, images: Any = None) -> ModelGraph:
    """The model's real data flow: one node per layer that runs, edges as data moves.

    Parameters
    ----------
    model : keras.Model or torch.nn.Module
    images : array_like, optional
        Keras: builds a model that was never called.  Torch: model input ``(N, C, H, W)``
        (a tensor or array; a list for several inputs), used for output shapes and, where
        ``torch.fx`` cannot trace the model (data-dependent control flow), to record the
        graph from a forward pass.

    Returns
    -------
    ModelGraph
        Layers have ``id == layer == LayerInfo.name``.  A layer called more than once has
        one node per call, the later ones with ids ``name#2``, ...: in torch these are the
        adapter's own rows for those calls (``layer == id``); a Keras layer is listed once,
        so all its calls show ``layer=name``.  Operations that are no layer, and inputs
        that are no listed layer, have ``layer=None``.  Nested models (Keras) and
        container modules (torch) are group nodes whose members name them as ``parent``.
    """
    from .adapters import adapter_for

    adapter = adapter_for(model)  # TypeError naming the supported frameworks
    # Validated like every other call (a torch model takes its own NCHW layout here).
    inputs = None if images is None else adapter.model_inputs(images, None)
    nodes, edges, source, note = adapter.graph(inputs)
    return ModelGraph(tuple(nodes), tuple(edges), cast(Source, source), note)


class GraphBuilder:
    """Collects nodes and edges; ids stay unique and edges are kept once, in order."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.nodes: list[GraphNode] = []
        self._edges: dict[tuple[str, str], None] = {}
        # Layer names are reserved up front, so that an operation called "add" never takes
        # the id of a layer called "add" that is drawn later.
        self._taken: set[str] = set(reserved)
        self._ids: set[str] = set()

    @property
    def edges(self) -> list[tuple[str, str]]:
        return list(self._edges)

    def has(self, node_id: str) -> bool:
        return node_id in self._ids

    def fresh_id(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``, ... if taken."""
        candidate, n = base, 0
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        return candidate

    def add(self, node: GraphNode) -> str:
        if node.id in self._ids:
            raise ValueError(f"two graph nodes share the id {node.id!r}")
        self._taken.add(node.id)
        self._ids.add(node.id)
        self.nodes.append(node)
        return node.id

    def connect(self, source: str, target: str) -> None:
        self._edges.setdefault((source, target), None)


def call_id(name: str, call: int) -> str:
    """Id of the ``call``-th call (from 1) of a layer: its name, then ``name#2``, ..."""
    return name if call == 1 else f"{name}#{call}"


def call_label(label: str, call: int) -> str:
    return label if call == 1 else f"{label} (call {call})"
