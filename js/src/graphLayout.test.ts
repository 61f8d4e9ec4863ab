import { describe, expect, it } from "vitest";
import inception from "./fixtures/graph_inception.json";
import interleaved from "./fixtures/graph_interleaved.json";
import nested from "./fixtures/graph_nested.json";
import resnet from "./fixtures/graph_resnet.json";
import sequential from "./fixtures/graph_sequential.json";
import skip from "./fixtures/graph_skip.json";
import torchGraph from "./fixtures/graph_torch.json";
import {
  answerLayoutRequest,
  BOX,
  GraphIndex,
  type GraphJson,
  type GraphLayout,
  type LaidBox,
  layoutData,
  layoutGraph,
  layoutNow,
  type Point,
  reviveLayout,
  toGraph,
} from "./graphLayout";

// The fixtures are model_graph(...).to_json() of real models (tests/test_graph.py).
// inception: torch blocks of four parallel branches (nn.Sequential each) in a stage;
// interleaved: a container `enc` whose two layers run with `mid` between them.
const FIXTURES: Record<string, GraphJson> = {
  sequential: toGraph(sequential),
  skip: toGraph(skip),
  nested: toGraph(nested),
  torch: toGraph(torchGraph),
  resnet: toGraph(resnet),
  inception: toGraph(inception),
  interleaved: toGraph(interleaved),
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
      const graphs = ["nested", "torch", "resnet", "inception", "interleaved"];
      for (const graph of graphs.map((name) => FIXTURES[name] as GraphJson)) {
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
    "draws frames around dagre's positions: sibling frames apart, members inside",
    async () => {
      const cases: [string, string[]][] = [
        ["resnet", []],
        ["resnet", ["layer2", "layer3.1"]],
        ["nested", []],
        ["inception", []],
        ["inception", ["stage.0.branch5"]],
      ];
      for (const [name, folded] of cases) {
        const graph = FIXTURES[name] as GraphJson;
        const collapsed = new Set(folded);
        const index = new GraphIndex(graph);
        const layout = await layoutGraph(graph, collapsed);
        // The fast way was taken: no dagre clusters for these.
        expect(layout.grouping, name).toBe("frames");
        const frames = layout.boxes.filter((b) => b.shape === "group");
        expect(frames.length).toBeGreaterThan(0);
        const problems: string[] = [];
        for (const frame of frames) {
          // Every member, at any depth, lies inside the frame.
          for (const box of layout.boxes) {
            if (index.ancestors(box.id).includes(frame.id) && !contains(frame, box)) {
              problems.push(`${box.id} sticks out of ${frame.id}`);
            }
          }
          // Frames of groups in the same group (or both at the top) never overlap.
          const parent = index.byId.get(frame.id)?.parent;
          for (const other of frames) {
            if (other.id <= frame.id || index.byId.get(other.id)?.parent !== parent) continue;
            if (overlaps(frame, other)) problems.push(`${frame.id} overlaps ${other.id}`);
          }
        }
        expect(problems, `${name} ${folded}`).toEqual([]);
        checkLayout(graph, layout, collapsed);
      }
      // Parallel branches of a block lie side by side, each in its own frame.
      const layout = await layoutGraph(FIXTURES.inception as GraphJson);
      const branches = ["branch1", "branch3", "branch5", "pool"].map(
        (b) => layout.byId.get(`stage.0.${b}`) as LaidBox,
      );
      for (const a of branches) {
        for (const b of branches) {
          expect(a.y < b.y + b.height && b.y < a.y + a.height, `${a.id} beside ${b.id}`).toBe(true);
        }
      }
    },
    SLOW,
  );

  it("lays groups out as dagre clusters where frames around the boxes would overlap", async () => {
    // enc.0 -> mid -> enc.1: a frame around enc's two boxes would take mid's frame in.
    const graph = FIXTURES.interleaved as GraphJson;
    const layout = await layoutGraph(graph);
    expect(layout.grouping).toBe("clusters");
    checkLayout(graph, layout);
    const [enc, mid] = [layout.byId.get("enc"), layout.byId.get("mid")] as LaidBox[];
    expect(overlaps(enc as LaidBox, mid as LaidBox)).toBe(false);
    // Folded, mid's one box still lies between enc's members.
    const folded = await layoutGraph(graph, new Set(["mid"]));
    expect(folded.grouping).toBe("clusters");
    checkLayout(graph, folded, new Set(["mid"]));
  });

  it(
    "lays the same graphs out as dagre clusters when asked (the slower way)",
    () => {
      for (const name of ["nested", "inception", "resnet"]) {
        const graph = FIXTURES[name] as GraphJson;
        const layout = layoutNow(graph, new Set(), "clusters");
        expect(layout.grouping).toBe("clusters");
        checkLayout(graph, layout);
      }
    },
    SLOW,
  );

  it("sends a worker's layout back as plain data that revives to the same layout", () => {
    for (const [name, folded] of [
      ["resnet", ["layer1.0", "layer4"]],
      ["inception", []],
    ] as [string, string[]][]) {
      const graph = FIXTURES[name] as GraphJson;
      // What the worker answers, through the structured clone a postMessage makes.
      const answer = structuredClone(answerLayoutRequest({ graph, collapsed: folded }));
      if (!("layout" in answer)) throw new Error(answer.error);
      const revived = reviveLayout(answer.layout, "worker");
      const here = layoutNow(graph, new Set(folded));
      expect(revived.engine).toBe("worker");
      expect(layoutData(revived)).toEqual(layoutData(here));
      expect([...revived.byId.keys()].sort()).toEqual([...here.byId.keys()].sort());
      expect(revived.byId.get("x")).toEqual(here.byId.get("x"));
    }
  });

  it("lays out on the page's thread where there is no Worker (happy-dom)", async () => {
    expect(typeof Worker).toBe("undefined");
    const layout = await layoutGraph(FIXTURES.skip as GraphJson);
    expect(layout.engine).toBe("main-thread");
  });

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
      layoutNow(graph); // warm the JIT first
      layoutNow(graph, new Set(), "clusters");
      // Interleaved: the two ways see the same load on a shared machine.
      const frames: number[] = [];
      const clusters: number[] = [];
      let engine = "";
      for (let i = 0; i < 7; i++) {
        let start = performance.now();
        engine = (await layoutGraph(graph)).engine;
        frames.push(performance.now() - start);
        if (i % 2 === 0) {
          start = performance.now();
          layoutNow(graph, new Set(), "clusters");
          clusters.push(performance.now() - start);
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
      const ms = (xs: number[]) =>
        `median ${median(xs).toFixed(0)} ms (${xs.map((t) => t.toFixed(0)).join(", ")})`;
      console.log(
        `dagre layout of ${graph.nodes.length} nodes / ${graph.edges.length} edges (${engine}):` +
          `\n  frames around the boxes: ${ms(frames)}\n  dagre clusters: ${ms(clusters)}`,
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
