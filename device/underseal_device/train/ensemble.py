"""Several trained recognizers in one ONNX graph: every member runs on each crop.

Why an ensemble: two recognizers trained by one recipe from different seeds
disagree on about one real crop in five. Combining them reads more plates,
but how they are combined matters, and that was chosen on synthetic plates
only (5,000 from a seed no member saw): averaging their per-step
probabilities reads *fewer* than either member (77.0 % against 79.6 %),
because CTC's spikes need not fall on the same steps in two networks; ranking
whole readings by their CTC probability under every member reads 81.4 %.
So the graph keeps the members apart and the recognizer ranks their readings
(``ocr.recognizer``). A third member, chosen the same way, read 84.5 % of
3,000 synthetic plates (seed 7) against the pair's 83.5 % (56 fixed, 28
broken, McNemar p = 0.003).

Why one graph: the camera keeps a single file with a single pinned SHA-256
and makes one onnxruntime call per batch. The graph takes the members' input
``image`` and emits ``logits`` of shape ``N×M×T×C``: member ``m``'s logits at
``[:, m]``. Members are renamed with a prefix (``m0_``, ``m1_``, ...) so that
their weights never collide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.compose import add_prefix_graph

__all__ = ["combine"]

#: Input and output names the camera's recognizer expects of every member.
INPUT, OUTPUT = "image", "logits"
#: ONNX operator set of the members (``make train-ocr`` exports at 17).
OPSET = 17


def _member(data: bytes, index: int) -> tuple[onnx.GraphProto, list[tuple[str, int]]]:
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf's DecodeError, or onnx's own on a bad header
        raise ValueError(f"member {index} is not an ONNX model") from None
    graph = model.graph
    inputs = [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    if inputs != [INPUT] or [o.name for o in graph.output] != [OUTPUT]:
        raise ValueError(f"member {index} is not a recognizer graph: image in, logits out")
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    if dict(opsets).get("", dict(opsets).get("ai.onnx")) != OPSET:
        raise ValueError(f"member {index} uses another operator set than {OPSET}")
    return add_prefix_graph(graph, f"m{index}_", rename_inputs=False), opsets


def _same_type(a: onnx.ValueInfoProto, b: onnx.ValueInfoProto) -> bool:
    return bytes(a.type.SerializeToString()) == bytes(b.type.SerializeToString())


def combine(members: Sequence[bytes]) -> bytes:
    """One serialized ONNX model that runs every member: ``N×M×T×C`` logits, member order.

    Members are serialized recognizer graphs with the same input and output
    types (``N×1×H×W`` image in, ``N×T×C`` logits out). The output is
    deterministic: the same members in the same order give the same bytes.

    Raises:
        ValueError: no members, or a member that is not a recognizer graph of
            the same shape as the first.
    """
    if not members:
        raise ValueError("an ensemble needs at least one member")
    loaded = [_member(data, i) for i, data in enumerate(members)]
    graphs = [graph for graph, _ in loaded]
    opsets = loaded[0][1]
    if any(o != opsets for _, o in loaded):
        raise ValueError("members import different operator sets")
    first = graphs[0]
    for i, g in enumerate(graphs[1:], 1):
        if not (
            _same_type(g.input[0], first.input[0]) and _same_type(g.output[0], first.output[0])
        ):
            raise ValueError(f"member {i}'s input or output shape differs from member 0's")
    nodes = [node for g in graphs for node in g.node]
    initializers = [init for g in graphs for init in g.initializer]
    # Each member's N×T×C logits become N×1×T×C, then N×M×T×C in member order.
    axis = numpy_helper.from_array(np.array([1], np.int64), "member_axis")
    initializers.append(axis)
    stacked = [f"m{i}_stacked" for i in range(len(graphs))]
    nodes += [
        helper.make_node("Unsqueeze", [g.output[0].name, axis.name], [name], name=name)
        for g, name in zip(graphs, stacked, strict=True)
    ]
    nodes.append(helper.make_node("Concat", stacked, [OUTPUT], axis=1, name="members"))
    dims = first.output[0].type.tensor_type.shape.dim
    shape = [d.dim_param or d.dim_value for d in dims]
    output = helper.make_tensor_value_info(
        OUTPUT, TensorProto.FLOAT, [shape[0], len(graphs), *shape[1:]]
    )
    graph = helper.make_graph(
        nodes, f"plate_ocr_ensemble_{len(graphs)}", [first.input[0]], [output], initializers
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
        producer_name="underseal",
    )
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())
