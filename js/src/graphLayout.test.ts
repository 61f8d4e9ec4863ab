import { describe, expect, it } from "vitest";
import nested from "./fixtures/graph_nested.json";
import resnet from "./fixtures/graph_resnet.json";
import sequential from "./fixtures/graph_sequential.json";
import skip from "./fixtures/graph_skip.json";
import torchGraph from "./fixtures/graph_torch.json";
import {
  BOX,
  GraphIndex,
  type GraphJson,
  type GraphLayout,
  type LaidBox,
  layoutGraph,
  type Point,
  toGraph,
} from "./graphLayout";

// The fixtures are model_graph(...).to_json() of real models (tests/test_graph.py).
const FIXTURES: Record<string, GraphJson> = {
  sequential: toGraph(sequential),
  skip: toGraph(skip),
  nested: toGraph(nested),
  torch: toGraph(torchGraph),
  resnet: toGraph(resnet),
};

const EPS = 0.5;
// Tests that lay out the ResNet-sized graph: seconds when other work shares the CPU.
const SLOW = 60_000;

function overlaps(a: LaidBox, b: LaidBox): boolean {
  return (
    a.x < b.x + b.width - EPS &&
    b.x < a.x + a.width - EPS &&
    a.y < b.y + b.height - EPS &&
    b.y < a.y + a.height - EPS
  );
}

function contains(outer: LaidBox, inner: LaidBox): boolean {
  return (
    inner.x >= outer.x - EPS &&
    inner.y >= outer.y - EPS &&
    inner.x + inner.width <= outer.x + outer.width + EPS &&
    inner.y + inner.height <= outer.y + outer.height + EPS
  );
}

/** Whether `p` lies on the border of `box` (edges start and end there). */
function onBorder(p: Point, box: LaidBox): boolean {
  const inX = p.x >= box.x - EPS && p.x <= box.x + box.width + EPS;
  const inY = p.y >= box.y - EPS && p.y <= box.y + box.height + EPS;
  const atX = Math.abs(p.x - box.x) <= EPS || Math.abs(p.x - box.x - box.width) <= EPS;
  const atY = Math.abs(p.y - box.y) <= EPS || Math.abs(p.y - box.y - box.height) <= EPS;
  return (inX && atY) || (inY && atX);
}

function checkLayout(graph: GraphJson, layout: GraphLayout, collapsed = new Set<string>()) {
  const index = new GraphIndex(graph);
  const shown = graph.nodes.filter((n) => index.visibleAs(n.id, collapsed) === n.id);
  // Every node that is not folded away has a box, and nothing else does.
  expect(new Set(layout.boxes.map((b) => b.id))).toEqual(new Set(shown.map((n) => n.id)));
  for (const box of layout.boxes) {
    expect(box.width).toBeGreaterThan(0);
    expect(box.height).toBeGreaterThan(0);
    expect(box.x + box.width).toBeLessThanOrEqual(layout.width + EPS);
    expect(box.y + box.height).toBeLessThanOrEqual(layout.height + EPS);
  }
  // Boxes never overlap, except a group frame around its own members.
  const boxes = layout.boxes;
  const overlapping: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i] as LaidBox, boxes[j] as LaidBox];
      if (index.ancestors(b.id).includes(a.id) || index.ancestors(a.id).includes(b.id)) continue;
      if (overlaps(a, b)) overlapping.push(`${a.id} / ${b.id}`);
    }
  }
  expect(overlapping).toEqual([]);
  const outside = boxes.filter((box) => {
    const parent = index.byId.get(box.id)?.parent;
    return parent ? !contains(layout.byId.get(parent) as LaidBox, box) : false;
  });
  expect(outside.map((b) => b.id)).toEqual([]);
  // One polyline per drawn edge, from the source's border to the target's, downwards.
  const expected = index.visibleEdges(collapsed);
  expect(layout.edges.map((e) => [e.source, e.target])).toEqual(expect.arrayContaining(expected));
  expect(layout.edges).toHaveLength(expected.length);
  const bad: string[] = [];
  for (const edge of layout.edges) {
    const name = `${edge.source} -> ${edge.target}`;
    const [source, target] = [layout.byId.get(edge.source), layout.byId.get(edge.target)];
    if (!source || !target || edge.points.length < 2) {
      bad.push(`${name}: no boxes or no points`);
      continue;
    }
    const first = edge.points[0] as Point;
    const last = edge.points[edge.points.length - 1] as Point;
    if (!onBorder(first, source)) bad.push(`${name} starts off its box`);
    if (!onBorder(last, target)) bad.push(`${name} ends off its box`);
    if (source.y + source.height > target.y + EPS) bad.push(`${name} runs upwards`);
  }
  expect(bad).toEqual([]);
}

describe("graph layout", () => {
  for (const [name, graph] of Object.entries(FIXTURES)) {
    it(
      `lays out the ${name} fixture: a box per node, no overlaps, edges at their boxes`,
      async () => {
        checkLayout(graph, await layoutGraph(graph));
      },
      SLOW,
    );
  }

  it("draws a Sequential as one column, in order", async () => {
    const graph = FIXTURES.sequential as GraphJson;
    const layout = await layoutGraph(graph);
    const ys = graph.nodes.map((n) => (layout.byId.get(n.id) as LaidBox).y);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    const centres = graph.nodes.map((n) => {
      const box = layout.byId.get(n.id) as LaidBox;
      return box.x + box.width / 2;
    });
    for (const c of centres) expect(Math.abs(c - (centres[0] as number))).toBeLessThan(1);
  });

  it("puts a skip connection beside the path it skips", async () => {
    const graph = FIXTURES.skip as GraphJson;
    const layout = await layoutGraph(graph);
    const skipEdge = layout.edges.find((e) => e.source === "conv_a" && e.target === "add");
    expect(skipEdge).toBeDefined();
    const box = (id: string) => layout.byId.get(id) as LaidBox;
    // conv_b and bn lie between conv_a and add, so the skip edge bends around them.
    expect(box("conv_b").y).toBeGreaterThan(box("conv_a").y);
    expect(box("add").y).toBeGreaterThan(box("bn").y);
    expect(skipEdge?.points.length).toBeGreaterThan(2);
  });

  it("lays a nested model out inside its group frame", async () => {
    const graph = FIXTURES.nested as GraphJson;
    const layout = await layoutGraph(graph);
    const group = layout.byId.get("features") as LaidBox;
    expect(group.shape).toBe("group");
    const members = graph.nodes.filter((n) => n.parent === "features");
    expect(members.length).toBe(7);
    for (const m of members) {
      const box = layout.byId.get(m.id) as LaidBox;
      expect(box.depth).toBe(1);
      expect(contains(group, box)).toBe(true);
    }
  });

  it("folds a collapsed group into one box that takes its edges", async () => {
    const graph = FIXTURES.nested as GraphJson;
    const collapsed = new Set(["features"]);
    const layout = await layoutGraph(graph, collapsed);
    checkLayout(graph, layout, collapsed);
    expect(layout.byId.get("features")?.shape).toBe("collapsed");
    expect(layout.byId.has("features/block1_conv1")).toBe(false);
    expect(layout.edges.map((e) => [e.source, e.target])).toEqual(
      expect.arrayContaining([
        ["image", "features"],
        ["features", "flat"],
        ["flat", "probs"],
      ]),
    );
  });

  it(
    "leaves each group's header its room above the members and hugs them below",
    async () => {
      for (const graph of [FIXTURES.nested, FIXTURES.torch, FIXTURES.resnet] as GraphJson[]) {
        const index = new GraphIndex(graph);
        const layout = await layoutGraph(graph);
        const frames = layout.boxes.filter((b) => b.shape === "group");
        expect(frames.length).toBeGreaterThan(0);
        const rows: string[] = [];
        for (const frame of frames) {
          const members = (index.children.get(frame.id) ?? []).map(
            (m) => layout.byId.get(m.id) as LaidBox,
          );
          const top = Math.min(...members.map((m) => m.y)) - frame.y;
          const bottom = frame.y + frame.height - Math.max(...members.map((m) => m.y + m.height));
          rows.push(`${frame.id}: ${top.toFixed(1)} above, ${bottom.toFixed(1)} below`);
        }
        // 26px header and 6px of air above (as with ELK's padding), 10px below.
        const want = frames.map(
          (f) =>
            `${f.id}: ${(BOX.groupHeader + 6).toFixed(1)} above, ${BOX.groupPad.toFixed(1)} below`,
        );
        expect(rows).toEqual(want);
      }
    },
    SLOW,
  );

  it(
    "folds nested torch containers, inner and outer",
    async () => {
      const graph = FIXTURES.resnet as GraphJson;
      for (const collapsed of [new Set(["layer1.0", "layer3"]), new Set(["layer1", "layer1.0"])]) {
        checkLayout(graph, await layoutGraph(graph, collapsed), collapsed);
      }
    },
    SLOW,
  );

  it(
    "lays out a ResNet-50-sized graph (timing printed, not asserted)",
    async () => {
      const graph = FIXTURES.resnet as GraphJson;
      expect(graph.nodes.length).toBe(200);
      await layoutGraph(FIXTURES.sequential as GraphJson); // warm the JIT first
      const times: number[] = [];
      let engine = "";
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        engine = (await layoutGraph(graph)).engine;
        times.push(performance.now() - start);
      }
      console.log(
        `dagre layout of ${graph.nodes.length} nodes / ${graph.edges.length} edges (${engine}):` +
          ` ${times.map((t) => t.toFixed(0)).join(", ")} ms`,
      );
    },
    SLOW,
  );
});

describe("graph data", () => {
  it("drops what is malformed and cuts parent loops", () => {
    const graph = toGraph({
      nodes: [
        { id: "a", label: "a", type: "Conv2D", layer: "a", parent: "b", kind: "conv" },
        { id: "b", label: "b", type: "Functional", layer: "b", parent: "a", kind: "model" },
        { id: "a", label: "again" },
        { id: 3 },
        { id: "c", parent: "missing", output_shape: [null, 4, "x"] },
        null,
      ],
      edges: [["a", "c"], ["a", "c"], ["a", "zzz"], "bad", [1, 2]],
      source: "keras",
    });
    expect(graph.nodes.map((n) => n.id)).toEqual(["a", "b", "c"]);
    expect(graph.nodes.map((n) => n.label)).toEqual(["a", "b", "c"]);
    const index = new GraphIndex(graph);
    for (const node of graph.nodes) expect(index.ancestors(node.id).length).toBeLessThan(3);
    expect(graph.nodes[2]?.parent).toBeNull();
    expect(graph.nodes[2]?.output_shape).toEqual([null, 4, null]);
    expect(graph.edges).toEqual([["a", "c"]]);
    expect(toGraph(null).nodes).toEqual([]);
    expect(toGraph("nonsense").edges).toEqual([]);
  });

  it("lays nothing out when asked to stop before it starts", async () => {
    const stop = new AbortController();
    const pending = layoutGraph(FIXTURES.skip as GraphJson, new Set(), stop.signal);
    stop.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    const going = new AbortController();
    const layout = await layoutGraph(FIXTURES.skip as GraphJson, new Set(), going.signal);
    going.abort(); // too late: the layout is done
    expect(layout.boxes).toHaveLength(8);
  });

  it("lays out an empty graph", async () => {
    const layout = await layoutGraph(toGraph({ nodes: [], edges: [] }));
    expect(layout.boxes).toEqual([]);
    expect(layout.edges).toEqual([]);
  });
});
