// Laying out the model graph with dagre (@dagrejs/dagre, layered, top to bottom): the graph
// as the kernel sends it in, boxes and edge polylines out. Nested models and torch
// containers are dagre clusters (a compound graph), so a group's members are laid out inside
// its frame; a collapsed group is laid out as one box. Dagre is synchronous and runs on the
// calling thread, after yielding once to the page: a ResNet-50-sized torch graph (200 nodes,
// 24 groups) takes about half a second, graphLayout.test.ts prints the time. (ELK,
// which ran in a Web Worker before, made the bundle 1.7 MB: anywidget saves the bundle in
// every notebook that shows the widget.)

import { graphlib, layout as dagreLayout } from "@dagrejs/dagre";

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

export interface GraphLayout {
  /** Boxes in drawing order: a group frame before its members. */
  boxes: LaidBox[];
  byId: Map<string, LaidBox>;
  edges: LaidEdge[];
  width: number;
  height: number;
  /** Where the layout ran: dagre runs on the calling thread. */
  engine: EngineKind;
}

export type EngineKind = "main-thread";

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
}

interface DagreEdge {
  points?: Point[];
}

/**
 * Boxes and edge polylines for `graph` with the groups in `collapsed` folded. Every node
 * that is not inside a folded group gets a box; edges to hidden members end at their group.
 * It first yields to the page (a "laying out" status set before the call gets painted), and
 * rejects with the signal's reason, without laying out, when `signal` is aborted by then.
 */
export async function layoutGraph(
  graph: GraphJson,
  collapsed: ReadonlySet<string> = new Set(),
  signal?: AbortSignal,
): Promise<GraphLayout> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  if (signal?.aborted) throw signal.reason;
  return layoutNow(graph, collapsed);
}

/** What `layoutGraph` resolves to, computed now on this thread. */
export function layoutNow(
  graph: GraphJson,
  collapsed: ReadonlySet<string> = new Set(),
): GraphLayout {
  const index = new GraphIndex(graph);
  const open = (id: string) => index.isGroup(id) && !collapsed.has(id);
  const shown = graph.nodes.filter((n) => index.visibleAs(n.id, collapsed) === n.id);
  if (shown.length === 0) {
    return { boxes: [], byId: new Map(), edges: [], width: 0, height: 0, engine: "main-thread" };
  }

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

  const boxes: LaidBox[] = [];
  const byId = new Map<string, LaidBox>();
  const place = (node: GraphNodeJson, depth: number) => {
    const laid = g.node(node.id);
    const shape = open(node.id) ? "group" : collapsed.has(node.id) ? "collapsed" : "node";
    const box: LaidBox = {
      id: node.id,
      x: (laid.x ?? 0) - laid.width / 2,
      y: (laid.y ?? 0) - laid.height / 2,
      width: laid.width,
      height: laid.height,
      shape,
      depth,
    };
    boxes.push(box);
    byId.set(node.id, box);
    if (shape === "group") {
      for (const child of index.children.get(node.id) ?? []) place(child, depth + 1);
    }
  };
  for (const root of index.roots) place(root, 0);
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
