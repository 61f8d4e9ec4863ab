"""The data-flow graph of a torch ``nn.Module``: traced with ``torch.fx``, or recorded.

Leaf modules (no children, or parameters of their own: the torch adapter's line between a
layer and a sub-model) are nodes with ids as ``named_modules()`` names them, the k-th call of
a module called more than once ``"<name>#k"`` as the adapter lists it; the containers around
them (``nn.Sequential``, a ResNet block) are groups.  Work done in a container's ``forward``
outside any module (``x + y``, ``torch.flatten``, ``F.relu``) becomes an operation node
inside that container's group.  Shapes (with an example) are channels-last for 4-D outputs,
as the adapter reports them.

``torch.fx.symbolic_trace`` cannot follow data-dependent control flow (``if x.sum() > 0``).
Such a model is recorded instead: one forward pass of the example input, with hooks on every
module (to know which module is running) and a ``TorchFunctionMode`` (to see the torch
functions called between modules), linking each call to the calls that produced its input
tensors by tensor identity.  That graph is the path the example took.
"""

from __future__ import annotations

import builtins
import inspect
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import fx
from torch.overrides import TorchFunctionMode

from .._layers import kind_of
from ..graph import GraphBuilder, GraphNode, Source, call_id, call_label

Result = tuple[list[GraphNode], list[tuple[str, str]], Source, str]

# fx nodes that only pick from or measure another value: edges pass through them.
_PASS_FUNCTIONS: frozenset[Any] = frozenset({operator.getitem, builtins.getattr})
_PASS_METHODS = frozenset({"size", "dim"})


def torch_graph(model: torch.nn.Module, example: Any = None) -> Result:
    """``(nodes, edges, source, note)``: traced with fx, else recorded from ``example``.

    ``example`` is model input (``(N, C, H, W)`` tensor or array, a list for several
    inputs); with it, nodes carry output shapes.  Without it a model fx cannot trace raises
    ``ValueError``.
    """
    inputs = None if example is None else _as_inputs(model, example)
    try:
        with _inference(model):  # eval(): what runs is what inference runs (no dropout path)
            graph = _Tracer().trace(model)
    except Exception as error:  # fx raises TraceError, TypeError, NotImplementedError, ...
        reason = _first_line(error)
        if inputs is None:
            raise ValueError(
                f"torch.fx cannot trace {type(model).__name__} ({reason}): pass images "
                "(model input) so that the graph can be recorded from a forward pass."
            ) from error
        nodes, edges = _record(model, inputs)
        note = (
            f"torch.fx could not trace this model ({reason}), so the graph was recorded "
            "from a forward pass of the images: it shows the path they took"
        )
        return nodes, edges, "recorded", note
    if inputs is not None:
        _propagate_shapes(model, graph, [t[:1] for t in inputs])  # one sample tells shapes
    nodes, edges = _from_fx(model, graph)
    return nodes, edges, "fx", ""


# ---------------------------------------------------------------------- shared


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _as_inputs(model: torch.nn.Module, example: Any) -> list[torch.Tensor]:
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
    items = list(example) if isinstance(example, (list, tuple)) else [example]
    tensors = []
    for item in items:
        tensor = torch.as_tensor(np.asarray(item) if not torch.is_tensor(item) else item)
        if tensor.is_floating_point() or tensor.dtype == torch.uint8:
            tensor = tensor.to(dtype)
        tensors.append(tensor.to(device))
    return tensors


@contextmanager
def _inference(model: torch.nn.Module) -> Iterator[None]:
    """``eval()`` and no gradients, every module's own mode restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


def _shape(value: Any) -> tuple[int | None, ...] | None:
    """Shape without the batch axis; 4-D maps channels-last, as the layer list shows them."""
    shape = getattr(value, "shape", None)
    if shape is None or not isinstance(shape, torch.Size) or len(shape) == 0:
        return None
    dims = [int(d) for d in shape]
    if len(dims) == 4:  # (N, C, H, W) -> (N, H, W, C)
        dims = [dims[0], dims[2], dims[3], dims[1]]
    return (None, *dims[1:])


def _parent_of(name: str) -> str | None:
    return name.rsplit(".", 1)[0] if "." in name else None


def _is_leaf(module: torch.nn.Module) -> bool:
    """A module drawn as one box: no children, or parameters of its own.

    The same line the torch adapter draws between layers and sub-models: EfficientNet's
    same-padding ``Conv2d`` calls a ZeroPad2d child first but is one convolution, and
    tracing into it would leave the convolution as an anonymous ``conv2d`` call.
    """
    no_children = next(module.children(), None) is None
    return no_children or next(module.parameters(recurse=False), None) is not None


def _function_name(function: Any) -> tuple[str, str]:
    """``(label, type)`` of a function: ``("add", "operator.add")``, ``("relu", "F.relu")``."""
    name = getattr(function, "__name__", None) or type(function).__name__
    module = getattr(function, "__module__", None) or ""
    module = {"_operator": "operator", "torch.nn.functional": "F"}.get(module, module)
    qualified = getattr(function, "__qualname__", name)
    if module.startswith("torch._C") or not module or qualified.startswith("_"):
        # Tensor methods and torch built-ins (torch._VariableFunctionsClass.flatten) report
        # no useful module.
        owner = getattr(function, "__objclass__", None)
        is_method = isinstance(owner, type) and issubclass(torch.Tensor, owner)
        module, qualified = ("Tensor" if is_method else "torch"), name
    label = name
    if name.startswith("__") and name.endswith("__"):
        label = name[2:-2]
        if label[:1] in "ir" and label[1:] in _ARITHMETIC:
            # __iadd__ is add_ (in place, torch's spelling); __radd__ is add, operands swapped
            label = label[1:] + ("_" if label[0] == "i" else "")
    return label, f"{module}.{qualified}"


_ARITHMETIC = frozenset(
    {"add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "mod", "and", "or", "xor"}
)


class _Groups:
    """Container modules that enclose a drawn node become group nodes, outermost first."""

    def __init__(self, model: torch.nn.Module, graph: GraphBuilder) -> None:
        self._modules = dict(model.named_modules())
        self._graph = graph

    def ensure(self, name: str | None) -> str | None:
        if not name or name not in self._modules:
            return None
        if not self._graph.has(name):
            parent = self.ensure(_parent_of(name))
            module = self._modules[name]
            self._graph.add(
                GraphNode(
                    id=name,
                    label=name.rsplit(".", 1)[-1],
                    type=type(module).__name__,
                    layer=name,
                    parent=parent,
                    kind="model",
                )
            )
        return name


def _module_node(
    graph: GraphBuilder,
    groups: _Groups,
    name: str,
    module: torch.nn.Module,
    call: int,
    shape: tuple[int | None, ...] | None,
) -> str:
    parent = groups.ensure(_parent_of(name))
    # The torch adapter lists the k-th call of a module as its own layer "<name>#k".
    layer = call_id(name, call)
    return graph.add(
        GraphNode(
            id=layer if call == 1 else graph.fresh_id(layer),
            label=call_label(name.rsplit(".", 1)[-1], call),
            type=type(module).__name__,
            layer=layer,
            parent=parent,
            output_shape=shape,
            kind=kind_of(type(module).__name__),
        )
    )


def _operation_node(
    graph: GraphBuilder,
    groups: _Groups,
    base_id: str,
    label: str,
    type_name: str,
    container: str | None,
    shape: tuple[int | None, ...] | None,
) -> str:
    return graph.add(
        GraphNode(
            id=graph.fresh_id(base_id),
            label=label,
            type=type_name,
            layer=None,
            parent=groups.ensure(container),
            output_shape=shape,
            kind=kind_of(label),
        )
    )


def _input_node(graph: GraphBuilder, name: str, shape: tuple[int | None, ...] | None) -> str:
    return graph.add(
        GraphNode(
            id=graph.fresh_id(name),
            label=name,
            type="Input",
            layer=None,
            output_shape=shape,
            kind="input",
        )
    )


# ------------------------------------------------------------------------ torch.fx


class _Tracer(fx.Tracer):
    """Stops at modules without children, so every ``named_modules()`` leaf is one node."""

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return _is_leaf(m)


def _propagate_shapes(model: torch.nn.Module, graph: fx.Graph, inputs: list[torch.Tensor]) -> None:
    from torch.fx.passes.shape_prop import ShapeProp

    module = fx.GraphModule(model, graph)
    with _inference(model):
        try:
            ShapeProp(module).propagate(*inputs)
        except Exception as error:  # the model's own error for input it cannot take
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise ValueError(
                f"The model could not run on input of shape {shapes}: {_first_line(error)}"
            ) from error


def _fx_shape(node: fx.Node) -> tuple[int | None, ...] | None:
    meta = node.meta.get("tensor_meta")
    return _shape(meta) if meta is not None else None


def _container(node: fx.Node) -> str | None:
    """The innermost module whose forward ran this operation (None: the model's own)."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [value[0] if isinstance(value, tuple) else key for key, value in stack.items()]
    return paths[-1] if paths else None


def _from_fx(model: torch.nn.Module, graph: fx.Graph) -> tuple[list[GraphNode], list[Any]]:
    modules = dict(model.named_modules())
    builder = GraphBuilder(name for name in modules if name)
    groups = _Groups(model, builder)
    calls: dict[str, int] = {}
    # fx node -> graph ids that stand for its value (several for a folded node)
    ids: dict[fx.Node, list[str]] = {}

    for node in graph.nodes:
        sources = [i for source in node.all_input_nodes for i in ids.get(source, [])]
        if node.op == "output" or node.op == "get_attr":
            continue
        if node.op == "placeholder":
            ids[node] = [_input_node(builder, str(node.target), _fx_shape(node))]
            continue
        if (node.op == "call_function" and node.target in _PASS_FUNCTIONS) or (
            node.op == "call_method" and node.target in _PASS_METHODS
        ):
            ids[node] = list(dict.fromkeys(sources))
            continue
        if node.op == "call_module":
            name = str(node.target)
            calls[name] = calls.get(name, 0) + 1
            node_id = _module_node(
                builder, groups, name, modules[name], calls[name], _fx_shape(node)
            )
        else:
            if node.op == "call_method":
                label, type_name = str(node.target), f"Tensor.{node.target}"
            else:
                label, type_name = _function_name(node.target)
            node_id = _operation_node(
                builder, groups, node.name, label, type_name, _container(node), _fx_shape(node)
            )
        ids[node] = [node_id]
        for source in sources:
            builder.connect(source, node_id)
    return builder.nodes, builder.edges


# --------------------------------------------------------------------- recording


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in a (nested) call argument or result."""
    found: list[torch.Tensor] = []

    def walk(item: Any) -> None:
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            for x in item:
                walk(x)
        elif isinstance(item, dict):
            for x in item.values():
                walk(x)

    walk(value)
    return found


@dataclass
class _Call:
    """One recorded call: of a leaf module (``name`` is its module name) or a function."""

    name: str
    is_module: bool
    label: str
    type: str
    container: str | None
    call: int
    inputs: list[int]  # id() of the tensors it read
    outputs: list[int]  # id() of the tensors it returned
    shape: tuple[int | None, ...] | None


class _Recorder(TorchFunctionMode):
    """Records leaf-module calls and the torch functions run outside any leaf module."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.names = {module: name for name, module in model.named_modules()}
        self.leaves = {module for module in self.names if _is_leaf(module)}
        self.root = model
        self.stack: list[torch.nn.Module] = []
        self.calls: list[_Call] = []
        self.keep: list[list[torch.Tensor]] = []  # every tensor seen stays alive: no id reuse
        self._module_calls: dict[str, int] = {}

    def _container(self) -> str | None:
        for module in reversed(self.stack):
            if module is not self.root and module not in self.leaves:
                return self.names.get(module)
        return None

    def _in_leaf(self) -> bool:
        return bool(self.stack) and self.stack[-1] in self.leaves

    def _add(self, call: _Call, inputs: list[torch.Tensor], outputs: list[torch.Tensor]) -> None:
        self.keep.extend((inputs, outputs))
        call.inputs, call.outputs = [id(t) for t in inputs], [id(t) for t in outputs]
        call.shape = _shape(outputs[0]) if outputs else None
        self.calls.append(call)

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)  # the mode is off inside its own handler
        outputs = _tensors(result)
        if outputs and not self._in_leaf():
            label, type_name = _function_name(func)
            call = _Call(label, False, label, type_name, self._container(), 1, [], [], None)
            self._add(call, _tensors((args, kwargs)), outputs)
        return result

    def before(self, module: torch.nn.Module, args: Any, kwargs: Any) -> None:
        self.stack.append(module)

    def after(self, module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        self.stack.pop()
        if module not in self.leaves or self._in_leaf():
            return
        name = self.names[module]
        number = self._module_calls[name] = self._module_calls.get(name, 0) + 1
        call = _Call(name, True, name, type(module).__name__, None, number, [], [], None)
        self._add(call, _tensors((args, kwargs)), _tensors(output))


def _input_names(model: torch.nn.Module, count: int) -> list[str]:
    """The names of ``forward``'s first ``count`` parameters, as fx names its placeholders."""
    try:
        parameters = list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        parameters = []
    return [parameters[i] if i < len(parameters) else f"input_{i}" for i in range(count)]


def _record(
    model: torch.nn.Module, inputs: list[torch.Tensor]
) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    recorder = _Recorder(model)
    handles = []
    try:
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(recorder.before, with_kwargs=True))
            handles.append(module.register_forward_hook(recorder.after, with_kwargs=True))
        with _inference(model), recorder:
            result = model(*inputs)
    except Exception as error:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise ValueError(
            f"The model could not run on input of shape {shapes}: {_first_line(error)}"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    return _assemble(model, recorder.calls, inputs, _tensors(result))


def _assemble(
    model: torch.nn.Module,
    calls: list[_Call],
    inputs: list[torch.Tensor],
    results: list[torch.Tensor],
) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    """Link each call to the calls that produced its inputs; drop what feeds no result."""
    # Who produced each tensor so far, in call order, so that an in-place call (ReLU with
    # inplace=True, x += y) reads its input from the previous producer and then replaces it.
    # Model inputs are -1, -2, ...
    producer: dict[int, int] = {id(t): -1 - i for i, t in enumerate(inputs)}
    sources: list[list[int]] = []
    for index, call in enumerate(calls):
        sources.append(list(dict.fromkeys(producer[t] for t in call.inputs if t in producer)))
        for t in call.outputs:
            producer[t] = index

    # A function whose result nobody reads (the sum behind an `if`) is control flow, not
    # data flow: drop it, then whatever only it read.
    final = {producer[id(t)] for t in results if id(t) in producer}
    readers = [0] * len(calls)
    for items in sources:
        for s in items:
            if s >= 0:
                readers[s] += 1
    alive = [True] * len(calls)
    for index in reversed(range(len(calls))):  # readers come after what they read
        call = calls[index]
        if not call.is_module and readers[index] == 0 and index not in final:
            alive[index] = False
            for s in sources[index]:
                if s >= 0:
                    readers[s] -= 1

    modules = dict(model.named_modules())
    builder = GraphBuilder(name for name in modules if name)
    groups = _Groups(model, builder)
    names = _input_names(model, len(inputs))
    input_ids = [
        _input_node(builder, name, _shape(t)) for name, t in zip(names, inputs, strict=True)
    ]
    node_ids: dict[int, str] = {}
    for index, call in enumerate(calls):
        if not alive[index]:
            continue
        if call.is_module:
            node_id = _module_node(
                builder, groups, call.name, modules[call.name], call.call, call.shape
            )
        else:
            node_id = _operation_node(
                builder, groups, call.name, call.label, call.type, call.container, call.shape
            )
        node_ids[index] = node_id
        for s in sources[index]:
            source = input_ids[-1 - s] if s < 0 else node_ids.get(s)
            if source is not None:
                builder.connect(source, node_id)
    return builder.nodes, builder.edges
