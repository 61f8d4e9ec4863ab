// Laying out the model graph with dagre (@dagrejs/dagre, layered, top to bottom): the graph
// as the kernel sends it in, boxes and edge polylines out. Dagre lays out the boxes alone
// and each group's frame (nested models, torch containers) is drawn around its members
// (`layoutFrames`); where such frames would overlap (a group whose members are not side by
// side), the groups are dagre clusters instead, a compound graph that takes dagre several
// times as long (`layoutClusters`). A collapsed group is laid out as one box. The layout runs
// in a Web Worker made from a Blob URL of a separately bundled script
// (graphLayoutWorker.ts, inlined into the widget's one ESM file by scripts/build.mjs), and
// on the page's thread where workers are not available. graphLayout.test.ts prints the
// time of a ResNet-50-sized torch graph (200 nodes, 24 groups). (ELK made the bundle
// 1.7 MB: anywidget saves the bundle in every notebook that shows the widget.)

import { graphlib, layout as dagreLayout } from "@dagrejs/dagre";
import { type LayoutAnswer, type LayoutRequest, layoutInWorker } from "./graphLayoutWorkerClient";

// ------------------------------------------------------------------ graph data

/** One node as `ModelGraph.to_json()` writes it (cnnviz_widget/graph.py). */
export interface GraphNodeJson {
  id: string;
  label: string;
  type: string;
  /** The LayerInfo name this box shows; null for operations and unlisted inputs. */
  layer: string | null;
  /** Id of the enclosing group, null at the top level. */
  parent: string | null;
  output_shape: (number | null)[] | null;
  kind: string;
}

export interface GraphJson {
  nodes: GraphNodeJson[];
  edges: [string, string][];
  source: string;
  note: string;
}

const EMPTY: GraphJson = { nodes: [], edges: [], source: "", note: "" };

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * The graph trait as a well-formed graph: nodes with string ids (the first of a repeated id
 * wins), edges between known nodes, parents that exist and never loop. Anything else in a
 * saved notebook or a newer kernel's message is left out rather than breaking the view.
 */
export function toGraph(value: unknown): GraphJson {
  if (typeof value !== "object" || value === null) return EMPTY;
  const raw = value as Record<string, unknown>;
  const nodes: GraphNodeJson[] = [];
  const seen = new Set<string>();
  for (const item of Array.isArray(raw.nodes) ? raw.nodes : []) {
    if (typeof item !== "object" || item === null) continue;
    const n = item as Record<string, unknown>;
    const id = str(n.id);
    if (id === null || seen.has(id)) continue;
    seen.add(id);
    const shape = Array.isArray(n.output_shape)
      ? n.output_shape.map((d) => (typeof d === "number" ? d : null))
      : null;
    nodes.push({
      id,
      label: str(n.label) ?? id,
      type: str(n.type) ?? "",
      layer: str(n.layer),
      parent: str(n.parent),
      output_shape: shape,
      kind: str(n.kind) ?? "other",
    });
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const node of nodes) {
    if (node.parent !== null && (!byId.has(node.parent) || node.parent === node.id)) {
      node.parent = null;
    }
  }
  // A parent chain that loops back on itself is cut where it closes.
  for (const node of nodes) {
    const chain = new Set<string>([node.id]);
    let current = node;
    while (current.parent !== null) {
      if (chain.has(current.parent)) {
        current.parent = null;
        break;
      }
      chain.add(current.parent);
      current = byId.get(current.parent) as GraphNodeJson;
    }
  }
  const edges: [string, string][] = [];
  const pairs = new Set<string>();
  for (const item of Array.isArray(raw.edges) ? raw.edges : []) {
    if (!Array.isArray(item) || item.length < 2) continue;
    const [a, b] = [str(item[0]), str(item[1])];
    if (a === null || b === null || !byId.has(a) || !byId.has(b)) continue;
    const key = JSON.stringify([a, b]);
    if (pairs.has(key)) continue;
    pairs.add(key);
    edges.push([a, b]);
  }
  return { nodes, edges, source: str(raw.source) ?? "", note: str(raw.note) ?? "" };
}

/** Parent/children structure of a graph, and which nodes a collapsed group hides. */
export class GraphIndex {
  readonly graph: GraphJson;
  readonly byId: Map<string, GraphNodeJson>;
  readonly children = new Map<string, GraphNodeJson[]>();
  readonly roots: GraphNodeJson[] = [];

  constructor(graph: GraphJson) {
    this.graph = graph;
    this.byId = new Map(graph.nodes.map((n) => [n.id, n]));
    for (const node of graph.nodes) {
      if (node.parent === null) this.roots.push(node);
      else {
        const list = this.children.get(node.parent) ?? [];
        list.push(node);
        this.children.set(node.parent, list);
      }
    }
  }

  /** A group is a node with members (nested models, torch containers). */
  isGroup(id: string): boolean {
    return (this.children.get(id)?.length ?? 0) > 0;
  }

  /** Enclosing groups, innermost first. */
  ancestors(id: string): string[] {
    const out: string[] = [];
    let parent = this.byId.get(id)?.parent ?? null;
    while (parent !== null) {
      out.push(parent);
      parent = this.byId.get(parent)?.parent ?? null;
    }
    return out;
  }

  /** The box that stands for `id` when `collapsed` groups are folded: the outermost folded
   * ancestor, or the node itself. */
  visibleAs(id: string, collapsed: ReadonlySet<string>): string {
    let shown = id;
    for (const parent of this.ancestors(id)) if (collapsed.has(parent)) shown = parent;
    return shown;
  }

  /** Number of boxes inside a group, at any depth (what a collapsed box hides). */
  memberCount(id: string): number {
    let count = 0;
    for (const child of this.children.get(id) ?? []) {
      count += this.isGroup(child.id) ? this.memberCount(child.id) : 1;
    }
    return count;
  }

  /** Edges between the boxes shown, with folded members replaced by their group. */
  visibleEdges(collapsed: ReadonlySet<string>): [string, string][] {
    const out: [string, string][] = [];
    const seen = new Set<string>();
    for (const [a, b] of this.graph.edges) {
      const from = this.visibleAs(a, collapsed);
      const to = this.visibleAs(b, collapsed);
      const key = JSON.stringify([from, to]);
      if (from === to || seen.has(key)) continue;
      seen.add(key);
      out.push([from, to]);
    }
    return out;
  }
}

// ---------------------------------------------------------------------- sizes

/** Box sizes in CSS pixels, matched to graph.css (12px names, 11px type and shape). */
export const BOX = {
  minWidth: 72,
  maxWidth: 220,
  layerHeight: 50,
  opHeight: 34,
  groupHeader: 26,
  groupPad: 10,
} as const;

/** `[None, 26, 26, 32]` -> `26 × 26 × 32`, as the layer list writes shapes. */
export function shapeText(shape: readonly (number | null)[] | null): string {
  if (!shape || shape.length === 0) return "";
  const dims = shape[0] === null ? shape.slice(1) : shape;
  return dims.map((d) => (d === null ? "?" : String(d))).join(" × ");
}

/** Whether a node is drawn as a small operation box (no layer behind it). */
export function isOperation(node: GraphNodeJson): boolean {
  return node.layer === null && node.kind !== "input";
}

/**
 * Width and height of a node's box. The width follows the longest line at an average
 * character width: the layout is computed before anything is drawn, so text is not
 * measured; CSS cuts what does not fit with an ellipsis.
 */
export function boxSize(node: GraphNodeJson, collapsedMembers?: number): [number, number] {
  const lines =
    collapsedMembers !== undefined
      ? [node.label.length * 7.2, node.type.length * 6.2 + 40]
      : isOperation(node)
        ? [node.label.length * 7, shapeText(node.output_shape).length * 6.2]
        : [
            node.label.length * 7.2,
            node.type.length * 6.2,
            shapeText(node.output_shape).length * 6.2,
          ];
  const width = Math.min(BOX.maxWidth, Math.max(BOX.minWidth, Math.ceil(Math.max(...lines) + 18)));
  const height =
    collapsedMembers === undefined && isOperation(node) ? BOX.opHeight : BOX.layerHeight;
  return [width, height];
}

// --------------------------------------------------------------------- layout

export interface Point {
  x: number;
  y: number;
}

export interface LaidBox {
  id: string;
  /** Top-left corner and size in graph coordinates (CSS pixels at zoom 1). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** "node": a box; "group": an expanded group's frame; "collapsed": a folded group. */
  shape: "node" | "group" | "collapsed";
  /** Nesting depth: 0 at the top level. */
  depth: number;
}

export interface LaidEdge {
  source: string;
  target: string;
  /** From the source box's border to the target box's border. */
  points: Point[];
}

/** Where the layout ran: in a Web Worker, or on the page's thread (no `Worker` or Blob
 * URLs, a content security policy that forbids them, or a worker that failed to start). */
export type EngineKind = "worker" | "main-thread";

/**
 * How the groups were laid out. "frames": dagre laid out the boxes alone and each group's
 * frame is drawn around its members (fast); "clusters": dagre's compound graph, used where
 * frames drawn around the boxes would overlap (a group whose members are not side by side).
 */
export type GroupingKind = "frames" | "clusters";

export interface GraphLayout {
  /** Boxes in drawing order: a group frame before its members. */
  boxes: LaidBox[];
  byId: Map<string, LaidBox>;
  edges: LaidEdge[];
  width: number;
  height: number;
  engine: EngineKind;
  grouping: GroupingKind;
}

/** Dagre's spacing: 26px between ranks of boxes, as between the layers of the ELK layout. */
const GRAPH = {
  rankdir: "TB",
  ranksep: 26,
  nodesep: 16,
  edgesep: 8,
  marginx: 12,
  marginy: 12,
} as const;

/** From a group frame's top to its first member: the header and a little air. */
const HEADER_ROOM = BOX.groupHeader + 6;

interface DagreNode {
  width: number;
  height: number;
  x?: number;
  y?: number;
  rank?: number;
}

interface DagreEdge {
  points?: Point[];
}

/**
 * Boxes and edge polylines for `graph` with the groups in `collapsed` folded. Every node
 * that is not inside a folded group gets a box; edges to hidden members end at their group.
 * The layout runs in a Web Worker where the page allows one (see graphLayoutWorkerClient.ts),
 * else on this thread after yielding once to the page (so that a "laying out" status set
 * before the call gets painted). It rejects with the signal's reason when `signal` is
 * aborted before the layout is done; a worker still at work is stopped.
 */
export async function layoutGraph(
  graph: GraphJson,
  collapsed: ReadonlySet<string> = new Set(),
  signal?: AbortSignal,
): Promise<GraphLayout> {
  if (signal?.aborted) throw signal.reason;
  const inWorker = layoutInWorker({ graph, collapsed: [...collapsed] }, signal);
  if (inWorker !== null) {
    const answer = await inWorker; // rejects on abort; null: the worker failed
    if (signal?.aborted) throw signal.reason;
    if (answer !== null) {
      if ("error" in answer) throw new Error(answer.error);
      return reviveLayout(answer.layout, "worker");
    }
  }
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  if (signal?.aborted) throw signal.reason;
  return layoutNow(graph, collapsed);
}

/** A layout as plain data (no Map): what a worker sends back. */
export interface LayoutData {
  boxes: LaidBox[];
  edges: LaidEdge[];
  width: number;
  height: number;
  grouping: GroupingKind;
}

export function layoutData(layout: GraphLayout): LayoutData {
  const { boxes, edges, width, height, grouping } = layout;
  return { boxes, edges, width, height, grouping };
}

export function reviveLayout(data: LayoutData, engine: EngineKind): GraphLayout {
  return { ...data, byId: new Map(data.boxes.map((b) => [b.id, b])), engine };
}

/** The worker's side (graphLayoutWorker.ts): the layout of a request, as plain data. */
export function answerLayoutRequest(request: LayoutRequest): LayoutAnswer {
  try {
    const layout = layoutNow(toGraph(request.graph), new Set(request.collapsed));
    return { layout: layoutData(layout) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** What `layoutGraph` resolves to, computed now on this thread; `grouping: "clusters"`
 * makes it lay the groups out as dagre clusters at once (to compare, in tests). */
export function layoutNow(
  graph: GraphJson,
  collapsed: ReadonlySet<string> = new Set(),
  grouping?: GroupingKind,
): GraphLayout {
  const index = new GraphIndex(graph);
  const shown = graph.nodes.filter((n) => index.visibleAs(n.id, collapsed) === n.id);
  if (shown.length === 0) {
    return {
      boxes: [],
      byId: new Map(),
      edges: [],
      width: 0,
      height: 0,
      engine: "main-thread",
      grouping: "frames",
    };
  }
  if (grouping === "clusters") return layoutClusters(index, collapsed, shown);
  const placed = placeBoxes(index, collapsed, shown);
  for (const widen of [true, false]) {
    const framed = frameGroups(index, placed, widen);
    if (boxesApart(index, framed)) return framed;
  }
  return layoutClusters(index, collapsed, shown);
}

/** Whether no two boxes overlap, but for a group frame around its own members. */
function boxesApart(index: GraphIndex, layout: GraphLayout): boolean {
  const boxes = [...layout.boxes].sort((a, b) => a.x - b.x);
  const eps = 0.5;
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i] as LaidBox;
    for (let j = i + 1; j < boxes.length; j++) {
      const b = boxes[j] as LaidBox;
      if (b.x >= a.x + a.width - eps) break; // sorted by x: none further right overlaps a
      if (a.y >= b.y + b.height - eps || b.y >= a.y + a.height - eps) continue;
      const related = index.ancestors(a.id).includes(b.id) || index.ancestors(b.id).includes(a.id);
      if (!related) return false;
    }
  }
  return true;
}

/** Boxes in drawing order (a frame before its members), with their depths. */
function inDrawingOrder(index: GraphIndex, byId: Map<string, LaidBox>): LaidBox[] {
  const boxes: LaidBox[] = [];
  const visit = (node: GraphNodeJson, depth: number) => {
    const box = byId.get(node.id);
    if (!box) return;
    box.depth = depth;
    boxes.push(box);
    if (box.shape === "group") {
      for (const child of index.children.get(node.id) ?? []) visit(child, depth + 1);
    }
  };
  for (const root of index.roots) visit(root, 0);
  return boxes;
}

/** Dagre's positions of the boxes alone, moved down to make room for the frames. */
interface Placed {
  boxes: Map<string, LaidBox>;
  edges: LaidEdge[];
  ancestors: Map<string, string[]>;
  groups: GraphNodeJson[];
}

/**
 * Dagre lays out the boxes alone (no clusters: a compound graph costs dagre several times
 * as long, as it adds border nodes to every rank of every group), each as wide as its box
 * plus a frame's padding on both sides per enclosing group; then the gaps between ranks
 * are stretched where frames start or end (a header per frame that starts, the padding of
 * each frame that ends). `frameGroups` draws the frames around the members.
 */
function placeBoxes(
  index: GraphIndex,
  collapsed: ReadonlySet<string>,
  shown: readonly GraphNodeJson[],
): Placed {
  const open = (id: string) => index.isGroup(id) && !collapsed.has(id);
  const leaves = shown.filter((n) => !open(n.id));
  const ancestors = new Map(shown.map((n) => [n.id, index.ancestors(n.id)]));
  const pad = BOX.groupPad;

  const g = new graphlib.Graph<typeof GRAPH, DagreNode, DagreEdge>();
  g.setGraph({ ...GRAPH });
  g.setDefaultEdgeLabel(() => ({}));
  const sizes = new Map<string, [number, number]>();
  for (const node of leaves) {
    const folded = collapsed.has(node.id) ? index.memberCount(node.id) : undefined;
    const [width, height] = boxSize(node, folded);
    sizes.set(node.id, [width, height]);
    const frames = ancestors.get(node.id)?.length ?? 0;
    g.setNode(node.id, { width: width + 2 * pad * frames, height });
  }
  const edges = index.visibleEdges(collapsed).filter(([a, b]) => !open(a) && !open(b));
  for (const [source, target] of edges) g.setEdge(source, target);

  dagreLayout(g);

  // Ranks of boxes, top to bottom, each with the band of heights its boxes take.
  const byRank = new Map<number, { top: number; bottom: number; ids: string[] }>();
  const boxes = new Map<string, LaidBox>();
  for (const node of leaves) {
    const laid = g.node(node.id);
    const [width, height] = sizes.get(node.id) as [number, number];
    const box: LaidBox = {
      id: node.id,
      x: (laid.x ?? 0) - width / 2,
      y: (laid.y ?? 0) - height / 2,
      width,
      height,
      shape: collapsed.has(node.id) ? "collapsed" : "node",
      depth: 0,
    };
    boxes.set(node.id, box);
    const rank = laid.rank ?? 0;
    const row = byRank.get(rank);
    if (row) {
      row.top = Math.min(row.top, box.y);
      row.bottom = Math.max(row.bottom, box.y + height);
      row.ids.push(node.id);
    } else byRank.set(rank, { top: box.y, bottom: box.y + height, ids: [node.id] });
  }
  const rows = [...byRank.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  const rowOf = new Map<string, number>();
  rows.forEach((row, i) => row.ids.forEach((id) => rowOf.set(id, i)));

  // The first and last row of every open group's members.
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  for (const node of leaves) {
    const i = rowOf.get(node.id) as number;
    for (const group of ancestors.get(node.id) ?? []) {
      first.set(group, Math.min(first.get(group) ?? i, i));
      last.set(group, Math.max(last.get(group) ?? i, i));
    }
  }
  // Frames that start above a row (headers) and end below it (padding), nested ones stacked.
  const starts = rows.map(() => 0);
  const ends = rows.map(() => 0);
  for (const node of leaves) {
    const i = rowOf.get(node.id) as number;
    const groups = ancestors.get(node.id) ?? [];
    starts[i] = Math.max(starts[i] as number, groups.filter((a) => first.get(a) === i).length);
    ends[i] = Math.max(ends[i] as number, groups.filter((a) => last.get(a) === i).length);
  }
  // How far each row moves down: the gap above it grows to what the frames there need,
  // and a frame keeps a rank's distance from what lies above or below it outside.
  const shift = rows.map(() => 0);
  for (let i = 1; i < rows.length; i++) {
    const [above, row] = [rows[i - 1], rows[i]] as [(typeof rows)[0], (typeof rows)[0]];
    const [ending, starting] = [ends[i - 1] as number, starts[i] as number];
    const need = ending + starting > 0 ? ending * pad + starting * HEADER_ROOM + GRAPH.ranksep : 0;
    shift[i] = (shift[i - 1] as number) + Math.max(0, need - (row.top - above.bottom));
  }
  const moveY = (y: number): number => {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as (typeof rows)[0];
      if (y > row.bottom) continue;
      if (y >= row.top || i === 0) return y + (shift[i] as number);
      // In the gap above this row: stretched evenly.
      const above = rows[i - 1] as (typeof rows)[0];
      const [from, to] = [above.bottom + (shift[i - 1] as number), row.top + (shift[i] as number)];
      return from + ((y - above.bottom) / (row.top - above.bottom)) * (to - from);
    }
    return y + (shift[shift.length - 1] as number);
  };
  for (const box of boxes.values()) box.y = moveY(box.y);
  const laidEdges = edges.map(([source, target]): LaidEdge => {
    const points = (g.edge(source, target)?.points ?? []).map((p) => ({ x: p.x, y: moveY(p.y) }));
    return { source, target, points };
  });
  const groups = shown.filter((n) => open(n.id));
  return { boxes, edges: laidEdges, ancestors, groups };
}

/** Width of a group's header (graph.css: chevron, 12px bold name, 11px type). */
function headerWidth(node: GraphNodeJson): number {
  return Math.min(
    2 * BOX.maxWidth,
    Math.ceil(40 + node.label.length * 7.2 + node.type.length * 6.2),
  );
}

/**
 * The layout with a frame drawn around each open group's members, and around the bends of
 * edges into it where they pass its members (a skip connection beside them). With `widen`,
 * a frame narrower than its header grows to it as far as the boxes beside it leave room.
 * `boxesApart` tells whether that worked.
 */
function frameGroups(index: GraphIndex, placed: Placed, widen: boolean): GraphLayout {
  const pad = BOX.groupPad;
  const { ancestors } = placed;
  const byId = new Map([...placed.boxes].map(([id, box]) => [id, { ...box }]));
  const edges = placed.edges.map((e) => ({ ...e, points: e.points.map((p) => ({ ...p })) }));
  const bends = new Map<string, Point[]>();
  for (const edge of edges) {
    const inner = edge.points.slice(1, -1);
    const groups = new Set([
      ...(ancestors.get(edge.source) ?? []),
      ...(ancestors.get(edge.target) ?? []),
    ]);
    for (const group of groups) bends.set(group, [...(bends.get(group) ?? []), ...inner]);
  }

  // Inner frames first: a frame holds its members' boxes and frames.
  const depth = (id: string) => ancestors.get(id)?.length ?? 0;
  const groups = [...placed.groups].sort((a, b) => depth(b.id) - depth(a.id));
  for (const group of groups) {
    const members = (index.children.get(group.id) ?? []).map((m) => byId.get(m.id) as LaidBox);
    const top = Math.min(...members.map((m) => m.y));
    const bottom = Math.max(...members.map((m) => m.y + m.height));
    const xs = members.flatMap((m) => [m.x, m.x + m.width]);
    for (const p of bends.get(group.id) ?? []) if (p.y >= top && p.y <= bottom) xs.push(p.x);
    let [left, right] = [Math.min(...xs) - pad, Math.max(...xs) + pad];
    const frame: LaidBox = {
      id: group.id,
      x: left,
      y: top - HEADER_ROOM,
      width: right - left,
      height: bottom - top + HEADER_ROOM + pad,
      shape: "group",
      depth: 0,
    };
    const missing = headerWidth(group) - frame.width;
    if (widen && missing > 0) {
      // Room to each side: up to the boxes beside (and the frames around them) that are
      // not this group's, and the frames already drawn.
      let [lo, hi] = [-Infinity, Infinity];
      const mine = new Set(ancestors.get(group.id));
      for (const box of byId.values()) {
        if (box.y >= frame.y + frame.height || box.y + box.height <= frame.y) continue;
        if (box.id === group.id || ancestors.get(box.id)?.includes(group.id)) continue;
        const theirs =
          box.shape === "group"
            ? 0
            : (ancestors.get(box.id) ?? []).filter((a) => !mine.has(a)).length;
        const keep = theirs * pad + BOX.groupPad;
        if (box.x + box.width <= left) lo = Math.max(lo, box.x + box.width + keep);
        else if (box.x >= right) hi = Math.min(hi, box.x - keep);
      }
      const grow = (room: number, wanted: number) => Math.max(0, Math.min(room, wanted));
      let [l, r] = [grow(left - lo, missing / 2), grow(hi - right, missing / 2)];
      l = grow(left - lo, missing - r); // what one side cannot take, the other may
      r = grow(hi - right, missing - l);
      [left, right] = [left - l, right + r];
      frame.x = left;
      frame.width = right - left;
    }
    byId.set(group.id, frame);
  }

  // Ends on the boxes as drawn (dagre aimed them at the wider boxes it laid out).
  for (const edge of edges) {
    const points = edge.points;
    const [source, target] = [byId.get(edge.source), byId.get(edge.target)];
    if (source && points.length >= 2) points[0] = border(source, points[1] as Point);
    if (target && points.length >= 2) {
      points[points.length - 1] = border(target, points[points.length - 2] as Point);
    }
    straightenEnds(points, source, target);
  }

  // Everything moved to the margins: frames reach above and beside dagre's drawing.
  const all = [...byId.values()];
  const xs = all.flatMap((b) => [b.x, b.x + b.width]);
  const ys = all.flatMap((b) => [b.y, b.y + b.height]);
  for (const edge of edges) for (const p of edge.points) (xs.push(p.x), ys.push(p.y));
  const [dx, dy] = [GRAPH.marginx - Math.min(...xs), GRAPH.marginy - Math.min(...ys)];
  for (const box of all) ((box.x += dx), (box.y += dy));
  for (const edge of edges) for (const p of edge.points) ((p.x += dx), (p.y += dy));
  return {
    boxes: inDrawingOrder(index, byId),
    byId,
    edges,
    width: Math.max(...xs) + dx + GRAPH.marginx,
    height: Math.max(...ys) + dy + GRAPH.marginy,
    engine: "main-thread",
    grouping: "frames",
  };
}

/** Where the line from the centre of `box` to `toward` leaves the box (as dagre's ends). */
function border(box: LaidBox, toward: Point): Point {
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  const [dx, dy] = [toward.x - cx, toward.y - cy];
  let [w, h] = [box.width / 2, box.height / 2];
  if (dx === 0 && dy === 0) return { x: cx, y: box.y + box.height };
  if (Math.abs(dy) * w > Math.abs(dx) * h) {
    if (dy < 0) h = -h;
    return { x: cx + (h * dx) / dy, y: cy + h };
  }
  if (dx < 0) w = -w;
  return { x: cx + w, y: cy + (w * dy) / dx };
}

/**
 * The layout as a compound graph: groups are dagre clusters, so a group's members are laid
 * out inside its frame and nothing else is. Slower (dagre's border nodes on every rank of
 * every cluster): used where the frames of `layoutFrames` would overlap.
 */
function layoutClusters(
  index: GraphIndex,
  collapsed: ReadonlySet<string>,
  shown: readonly GraphNodeJson[],
): GraphLayout {
  const open = (id: string) => index.isGroup(id) && !collapsed.has(id);
  const g = new graphlib.Graph<typeof GRAPH, DagreNode, DagreEdge>({ compound: true });
  g.setGraph({ ...GRAPH });
  g.setDefaultEdgeLabel(() => ({}));
  // In the model's order (inputs first, main path first): dagre's first ordering of each
  // rank follows it, and crossing reduction keeps it where it finds nothing better.
  for (const node of shown) {
    const folded = collapsed.has(node.id) ? index.memberCount(node.id) : undefined;
    const [width, height] = open(node.id) ? [0, 0] : boxSize(node, folded);
    g.setNode(node.id, { width, height });
  }
  for (const node of shown) if (node.parent !== null) g.setParent(node.id, node.parent);
  // Dagre routes edges between boxes only: an edge to an open group itself (which
  // ModelGraph never sends) is left out rather than breaking the layout.
  const edges = index.visibleEdges(collapsed).filter(([a, b]) => !open(a) && !open(b));
  for (const [source, target] of edges) g.setEdge(source, target);

  dagreLayout(g);

  const byId = new Map<string, LaidBox>();
  for (const node of shown) {
    const laid = g.node(node.id);
    byId.set(node.id, {
      id: node.id,
      x: (laid.x ?? 0) - laid.width / 2,
      y: (laid.y ?? 0) - laid.height / 2,
      width: laid.width,
      height: laid.height,
      shape: open(node.id) ? "group" : collapsed.has(node.id) ? "collapsed" : "node",
      depth: 0,
    });
  }
  const boxes = inDrawingOrder(index, byId);
  const laidEdges = edges.map(([source, target]): LaidEdge => {
    const points = (g.edge(source, target)?.points ?? []).map((p) => ({ x: p.x, y: p.y }));
    straightenEnds(points, byId.get(source), byId.get(target));
    return { source, target, points };
  });
  const size = g.graph() as { width?: number; height?: number };
  const layout: GraphLayout = {
    boxes,
    byId,
    edges: laidEdges,
    width: size.width ?? 0,
    height: size.height ?? 0,
    engine: "main-thread",
    grouping: "clusters",
  };

  const members = (frame: LaidBox) =>
    (index.children.get(frame.id) ?? []).map((child) => byId.get(child.id) as LaidBox);
  const frames = boxes.filter((b) => b.shape === "group");
  // Outer frames first: room made above a group moves the groups inside it down with it.
  for (const frame of [...frames].sort((a, b) => a.y - b.y)) {
    makeHeaderRoom(layout, frame, members(frame));
  }
  // Inner frames first: an outer frame hugs the inner ones as they end up.
  for (const frame of frames.reverse()) hugMembers(frame, members(frame));
  return layout;
}

/**
 * Stretches the drawing downwards where a group's header has too little room above its
 * first members: dagre puts a cluster's top border only half a `ranksep` above them. The
 * stretch is at a height in the gap between two ranks where no box is, so boxes stay apart
 * and edges keep their ends on their boxes.
 */
function makeHeaderRoom(layout: GraphLayout, frame: LaidBox, members: readonly LaidBox[]): void {
  if (members.length === 0) return;
  const first = Math.min(...members.map((m) => m.y));
  const missing = HEADER_ROOM - (first - frame.y);
  if (missing <= 0) return;
  const boxes = layout.boxes.filter((b) => b.shape !== "group");
  // Up from the first members to the top of their rank's boxes, then to the gap above it.
  let top = first;
  for (let moved = true; moved;) {
    moved = false;
    for (const b of boxes) {
      if (b.y < top && b.y + b.height > top) {
        top = b.y;
        moved = true;
      }
    }
  }
  if (top <= frame.y) return; // no gap between the frame's top and its members: leave it
  const above = boxes.map((b) => b.y + b.height).filter((bottom) => bottom <= top);
  const cut = (Math.max(frame.y, ...above) + top) / 2;
  for (const b of layout.boxes) {
    if (b.y >= cut) b.y += missing;
    else if (b.y + b.height > cut) b.height += missing; // a frame around the cut grows
  }
  for (const edge of layout.edges) for (const p of edge.points) if (p.y >= cut) p.y += missing;
  layout.height += missing;
}

/**
 * Moves a group frame's top and bottom in to its members: dagre leaves more room than the
 * header needs where the top border's rank holds taller boxes beside the group, and half a
 * `ranksep` below the last members. Nothing but the group's members and edges lies inside
 * its frame, so nothing comes to overlap it.
 */
function hugMembers(frame: LaidBox, members: readonly LaidBox[]): void {
  if (members.length === 0) return;
  const top = Math.max(frame.y, Math.min(...members.map((m) => m.y)) - HEADER_ROOM);
  const bottom = Math.min(
    frame.y + frame.height,
    Math.max(...members.map((m) => m.y + m.height)) + BOX.groupPad,
  );
  frame.y = top;
  frame.height = bottom - top;
}

/**
 * Slides an edge's ends along its boxes' borders to straight below (above) the next point
 * where that lies within the box's width: dagre aims an edge's end at the box's centre, so
 * edges fan out of a box's middle and meet the next box at a slant; this way they leave
 * and enter boxes straight down, and the arrowheads point down.
 */
function straightenEnds(points: Point[], source?: LaidBox, target?: LaidBox): void {
  const inset = 4; // keep off the rounded corners
  const within = (box: LaidBox, x: number) => x >= box.x + inset && x <= box.x + box.width - inset;
  const [first, second] = [points[0], points[1]];
  if (
    source &&
    first &&
    second &&
    second.y > source.y + source.height &&
    within(source, second.x)
  ) {
    first.x = second.x;
    first.y = source.y + source.height;
  }
  const [last, before] = [points[points.length - 1], points[points.length - 2]];
  if (target && last && before && before.y < target.y && within(target, before.x)) {
    last.x = before.x;
    last.y = target.y;
  }
}
