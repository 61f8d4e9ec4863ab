// The model drawn as its graph (branches, skips, several inputs), beside the layer list:
// one box per node with its name, type and output shape, laid out by dagre (graphLayout.ts,
// in a Web Worker where the page allows one). While a layout runs, a status says so: over
// the whole view before the first one, at the top over the old drawing after a fold.
// Drag pans, the wheel and the +/- buttons zoom, "Fit" shows the whole graph; clicking a
// layer's box selects that layer; the arrow keys walk the graph (Up/Down along edges,
// Left/Right to the neighbours beside) and Enter selects; a group's header folds it.
// Boxes are absolutely positioned divs over one SVG of edges, all inside one transformed
// stage, so text is real text (set with textContent: layer names come from the model).

import { h, setAttrs, uniqueId } from "./dom";
import {
  type GraphJson,
  GraphIndex,
  type GraphLayout,
  type GraphNodeJson,
  isOperation,
  type LaidBox,
  layoutGraph,
  shapeText,
  toGraph,
} from "./graphLayout";
import type { Lang } from "./protocol";

const STRINGS = {
  en: {
    graph: "Model graph",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    fit: "Fit",
    fitHint: "Show the whole graph",
    layingOut: "Laying out the graph…",
    failed: "The graph could not be laid out: {error}",
    empty: "No graph to draw",
    expand: "Expand",
    collapse: "Collapse",
    members: "{n} nodes inside",
    operation: "operation",
  },
  ko: {
    graph: "모델 그래프",
    zoomIn: "확대",
    zoomOut: "축소",
    fit: "맞춤",
    fitHint: "그래프 전체 보기",
    layingOut: "그래프 배치 중…",
    failed: "그래프를 배치하지 못했습니다: {error}",
    empty: "그릴 그래프가 없습니다",
    expand: "펼치기",
    collapse: "접기",
    members: "안에 노드 {n}개",
    operation: "연산",
  },
} as const satisfies Record<Lang, Record<string, string>>;

type Key = keyof (typeof STRINGS)["en"];

function say(lang: Lang, key: Key, params: Record<string, string | number> = {}): string {
  const table: Record<Key, string> = STRINGS[lang] ?? STRINGS.en;
  return table[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

const MIN_ZOOM = 0.01;
const MAX_ZOOM = 4;
const STEP = 1.25;
const PAD = 16;
/** Pointer travel (px) after which a press is a drag, not a click. */
const DRAG = 4;
const SVG = "http://www.w3.org/2000/svg";

export interface GraphViewOptions {
  signal: AbortSignal;
  /** A click (or Enter) on the box of a layer: its LayerInfo name. */
  onSelect: (layer: string) => void;
  lang?: Lang;
}

type State = "empty" | "loading" | "ready" | "error";

export class GraphView {
  /** Mount this beside the layer list; it fills its container. */
  readonly element: HTMLDivElement;
  readonly #options: GraphViewOptions;
  readonly #note: HTMLSpanElement;
  readonly #zoomOut: HTMLButtonElement;
  readonly #zoomIn: HTMLButtonElement;
  readonly #fitButton: HTMLButtonElement;
  readonly #viewport: HTMLDivElement;
  readonly #stage: HTMLDivElement;
  readonly #groups: HTMLDivElement;
  readonly #edges: SVGSVGElement;
  readonly #nodes: HTMLDivElement;
  readonly #status: HTMLDivElement;
  readonly #arrowId = uniqueId("cnnviz-graph-arrow");
  readonly #idPrefix = uniqueId("cnnviz-graph");
  readonly #observer: ResizeObserver | null = null;

  #lang: Lang;
  #graph: GraphJson = toGraph(null);
  #graphKey = "";
  #index = new GraphIndex(this.#graph);
  #collapsed = new Set<string>();
  #layout: GraphLayout | null = null;
  #elements = new Map<string, HTMLElement>();
  #elementIds = new Map<string, string>();
  #selected = "";
  #focused = "";
  #state: State = "empty";
  /** A layout is running while an older one stays on screen (a fold, an unfolding select). */
  #busy = false;
  #error = "";
  #generation = 0;
  #pending: Promise<void> = Promise.resolve();
  #layoutRun: AbortController | null = null;
  #reveal: string | null = null;
  #timings = { layoutMs: 0, drawMs: 0, engine: "" };

  // Pan and zoom: a graph point p is drawn at p * k + (tx, ty) in the viewport.
  #k = 1;
  #tx = 0;
  #ty = 0;
  #placed = false;
  #press: { x: number; y: number; tx: number; ty: number; id: number } | null = null;
  #dragged = false;

  constructor(options: GraphViewOptions) {
    this.#options = options;
    this.#lang = options.lang ?? "en";
    this.element = h("div", { class: "cnnviz-graph", "data-state": "empty" });
    const bar = h("div", { class: "cnnviz-graph-bar" });
    this.#note = h("span", { class: "cnnviz-graph-note" });
    const zoom = h("div", { class: "cnnviz-graph-zoom", role: "group" });
    this.#zoomOut = h("button", { type: "button", "data-role": "graph-zoom-out" }, "−");
    this.#zoomIn = h("button", { type: "button", "data-role": "graph-zoom-in" }, "+");
    this.#fitButton = h("button", { type: "button", "data-role": "graph-fit" });
    zoom.append(this.#zoomOut, this.#zoomIn, this.#fitButton);
    bar.append(this.#note, zoom);

    this.#viewport = h("div", {
      class: "cnnviz-graph-viewport",
      role: "listbox",
      tabindex: 0,
    });
    this.#stage = h("div", { class: "cnnviz-graph-stage" });
    this.#groups = h("div", { class: "cnnviz-graph-groups" });
    this.#edges = document.createElementNS(SVG, "svg");
    this.#edges.setAttribute("class", "cnnviz-graph-edges");
    this.#edges.setAttribute("aria-hidden", "true");
    this.#nodes = h("div", { class: "cnnviz-graph-nodes" });
    this.#stage.append(this.#groups, this.#edges, this.#nodes);
    this.#status = h("div", { class: "cnnviz-graph-status", role: "status" });
    this.#viewport.append(this.#stage, this.#status);
    this.element.append(bar, this.#viewport);

    const { signal } = options;
    const on = <K extends keyof HTMLElementEventMap>(
      target: HTMLElement,
      type: K,
      listener: (event: HTMLElementEventMap[K]) => void,
      passive = true,
    ) => target.addEventListener(type, listener, { signal, passive });
    on(this.#zoomIn, "click", () => this.zoomBy(STEP));
    on(this.#zoomOut, "click", () => this.zoomBy(1 / STEP));
    on(this.#fitButton, "click", () => this.fit());
    on(this.#viewport, "click", (e) => this.#onClick(e));
    on(this.#viewport, "dblclick", (e) => this.#onDoubleClick(e));
    on(this.#viewport, "keydown", (e) => this.#onKey(e), false);
    on(this.#viewport, "wheel", (e) => this.#onWheel(e), false);
    on(this.#viewport, "pointerdown", (e) => this.#onPointerDown(e));
    on(this.#viewport, "pointermove", (e) => this.#onPointerMove(e));
    on(this.#viewport, "pointerup", (e) => this.#onPointerUp(e));
    on(this.#viewport, "pointercancel", (e) => this.#onPointerUp(e));
    if (typeof ResizeObserver !== "undefined") {
      this.#observer = new ResizeObserver(() => {
        // Until the reader pans or zooms, the graph follows the container (side panel).
        if (!this.#placed && this.#layout) this.#initialView();
      });
      this.#observer.observe(this.#viewport);
    }
    signal.addEventListener("abort", () => this.destroy(), { once: true });
    this.#syncText();
  }

  /** Draws a new graph (the `ModelGraph.to_json()` trait value; anything malformed is
   * left out). Groups folded before stay folded where they still exist. */
  setGraph(graph: unknown): void {
    const parsed = toGraph(graph);
    // The trait may be set again with the same graph (a re-render): nothing to lay out.
    const key = JSON.stringify(parsed);
    if (key === this.#graphKey) return;
    this.#graphKey = key;
    this.#graph = parsed;
    this.#index = new GraphIndex(this.#graph);
    this.#collapsed = new Set([...this.#collapsed].filter((id) => this.#index.isGroup(id)));
    this.#placed = false;
    this.#layout = null;
    this.#syncText();
    this.#relayout();
  }

  /** Highlights the boxes of `layer` (unfolding groups that hide it) and pans to it. */
  select(layer: string): void {
    this.#selected = layer;
    const node = this.#boxOfLayer(layer);
    if (node) this.#focused = node.id;
    const folded = node ? this.#index.ancestors(node.id).filter((a) => this.#collapsed.has(a)) : [];
    if (folded.length > 0) {
      for (const group of folded) this.#collapsed.delete(group);
      this.#reveal = node?.id ?? null;
      this.#relayout();
      return;
    }
    this.#syncSelection();
    if (node) this.#revealBox(node.id);
  }

  setLang(lang: Lang): void {
    if (lang === this.#lang) return;
    this.#lang = lang;
    this.#syncText();
    if (this.#layout) this.#draw(this.#layout);
  }

  /** Folds or unfolds a group (a nested model, a torch container). */
  setCollapsed(group: string, collapsed: boolean): void {
    if (!this.#index.isGroup(group) || this.#collapsed.has(group) === collapsed) return;
    if (collapsed) this.#collapsed.add(group);
    else this.#collapsed.delete(group);
    if (collapsed && this.#index.ancestors(this.#focused).includes(group)) this.#focused = group;
    this.#reveal = group;
    this.#relayout();
  }

  isCollapsed(group: string): boolean {
    return this.#collapsed.has(group);
  }

  /** Resolves once the latest graph or fold change is laid out and drawn (or failed). */
  async whenLaidOut(): Promise<void> {
    let pending: Promise<void>;
    do {
      pending = this.#pending;
      await pending;
    } while (pending !== this.#pending);
  }

  /** How long the last layout took (dagre, and the worker's round trip where it ran in one),
   * drawing it, and where it ran (`GraphLayout.engine`). */
  get timings(): { layoutMs: number; drawMs: number; engine: string } {
    return { ...this.#timings };
  }

  /** The current layout (graph coordinates), null before the first one is drawn. */
  get layout(): GraphLayout | null {
    return this.#layout;
  }

  get zoom(): number {
    return this.#k;
  }

  zoomBy(factor: number, at?: { x: number; y: number }): void {
    const [width, height] = this.#viewportSize();
    const point = at ?? { x: width / 2, y: height / 2 };
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.#k * factor));
    const gx = (point.x - this.#tx) / this.#k;
    const gy = (point.y - this.#ty) / this.#k;
    this.#k = k;
    this.#tx = point.x - gx * k;
    this.#ty = point.y - gy * k;
    this.#placed = true;
    this.#applyTransform();
  }

  /** Scales and centres the whole graph into the viewport (never above 100%). */
  fit(): void {
    const layout = this.#layout;
    if (!layout) return;
    const [width, height] = this.#viewportSize();
    if (width <= 0 || height <= 0) return;
    const k = Math.min(
      1,
      (width - 2 * PAD) / Math.max(1, layout.width),
      (height - 2 * PAD) / Math.max(1, layout.height),
    );
    this.#k = Math.max(MIN_ZOOM, k);
    this.#tx = (width - layout.width * this.#k) / 2;
    this.#ty = (height - layout.height * this.#k) / 2;
    this.#placed = true;
    this.#applyTransform();
  }

  destroy(): void {
    this.#observer?.disconnect();
    this.#layoutRun?.abort();
    this.#generation += 1; // a layout still running is dropped when it lands
  }

  // ----------------------------------------------------------------- layout

  #relayout(): void {
    const generation = ++this.#generation;
    // A layout asked for again before it started (folds clicked in a row) is not computed.
    this.#layoutRun?.abort();
    this.#layoutRun = null;
    if (this.#graph.nodes.length === 0) {
      this.#layout = null;
      this.#clear();
      this.#busy = false;
      this.#setState("empty");
      this.#pending = Promise.resolve();
      return;
    }
    // A newer request than the one running stops it (a worker at work is terminated).
    if (!this.#layout) this.#setState("loading");
    else this.#setBusy(true);
    const run = new AbortController();
    this.#layoutRun = run;
    const start = performance.now();
    this.#pending = layoutGraph(this.#graph, new Set(this.#collapsed), run.signal).then(
      (layout) => {
        if (generation !== this.#generation || this.#options.signal.aborted) return;
        const laid = performance.now();
        this.#draw(layout);
        const drawn = performance.now();
        this.#timings = { layoutMs: laid - start, drawMs: drawn - laid, engine: layout.engine };
        this.#busy = false;
        this.#setState("ready");
        if (!this.#placed) this.#initialView();
        const reveal = this.#reveal;
        this.#reveal = null;
        if (reveal !== null) this.#revealBox(reveal);
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        this.#error = error instanceof Error ? error.message : String(error);
        this.#busy = false;
        this.#setState("error");
      },
    );
  }

  #setState(state: State): void {
    this.#state = state;
    this.element.dataset.state = state;
    this.#syncStatus();
  }

  #setBusy(busy: boolean): void {
    this.#busy = busy;
    this.#syncStatus();
  }

  #clear(): void {
    this.#groups.replaceChildren();
    this.#nodes.replaceChildren();
    this.#edges.replaceChildren();
    this.#elements = new Map();
    this.#elementIds = new Map();
  }

  // ------------------------------------------------------------------ drawing

  #draw(layout: GraphLayout): void {
    this.#layout = layout;
    this.#clear();
    const order = new Map(this.#graph.nodes.map((n, i) => [n.id, i]));
    for (const box of layout.boxes) {
      const node = this.#index.byId.get(box.id);
      if (!node) continue;
      const elementId = `${this.#idPrefix}-${order.get(box.id) ?? 0}`;
      const element =
        box.shape === "group" ? this.#groupFrame(node, box) : this.#nodeBox(node, box, elementId);
      place(element, box);
      this.#elements.set(box.id, element);
      this.#elementIds.set(box.id, elementId);
      (box.shape === "group" ? this.#groups : this.#nodes).append(element);
    }
    this.#drawEdges(layout);
    this.#stage.style.width = `${layout.width}px`;
    this.#stage.style.height = `${layout.height}px`;
    if (!this.#elements.has(this.#focused)) this.#focused = "";
    this.#syncSelection();
    this.#applyTransform();
  }

  #nodeBox(node: GraphNodeJson, box: LaidBox, elementId: string): HTMLElement {
    const lang = this.#lang;
    const folded = box.shape === "collapsed";
    const operation = !folded && isOperation(node);
    const shape = shapeText(node.output_shape);
    const element = h("div", {
      class: `cnnviz-gnode${operation ? " is-op" : ""}${folded ? " is-collapsed" : ""}`,
      id: elementId,
      role: "option",
      "aria-selected": "false",
      "data-node-id": node.id,
      "data-graph-node": node.layer ?? undefined,
      "data-kind": node.kind,
      "aria-description": operation ? say(lang, "operation") : undefined,
      title: [node.id, node.type, shape].filter(Boolean).join("\n"),
    });
    const name = h("span", { class: "cnnviz-gnode-name" });
    if (folded) name.append(this.#toggle(node.id, false));
    name.append(h("span", { class: "cnnviz-gnode-label" }, node.label));
    element.append(name);
    if (!operation) element.append(h("span", { class: "cnnviz-gnode-type" }, node.type));
    const last = folded ? say(lang, "members", { n: this.#index.memberCount(node.id) }) : shape;
    if (last) element.append(h("span", { class: "cnnviz-gnode-shape" }, last));
    return element;
  }

  #groupFrame(node: GraphNodeJson, box: LaidBox): HTMLElement {
    const frame = h("div", {
      class: "cnnviz-ggroup",
      role: "group",
      "aria-label": node.label,
      "aria-selected": "false",
      "data-group-id": node.id,
      "data-graph-node": node.layer ?? undefined,
      "data-depth": box.depth,
    });
    const head = h("div", { class: "cnnviz-ggroup-head", title: `${node.id}\n${node.type}` });
    head.append(
      this.#toggle(node.id, true),
      h("span", { class: "cnnviz-ggroup-label" }, node.label),
      h("span", { class: "cnnviz-ggroup-type" }, node.type),
    );
    frame.append(head);
    return frame;
  }

  #toggle(group: string, open: boolean): HTMLButtonElement {
    const label = say(this.#lang, open ? "collapse" : "expand");
    return h("button", {
      type: "button",
      class: "cnnviz-ggroup-toggle",
      "data-role": "graph-group-toggle",
      "data-group": group,
      "aria-expanded": String(open),
      "aria-label": label,
      title: label,
      tabindex: -1,
    });
  }

  #drawEdges(layout: GraphLayout): void {
    const svg = this.#edges;
    svg.setAttribute("width", String(layout.width));
    svg.setAttribute("height", String(layout.height));
    svg.setAttribute("viewBox", `0 0 ${layout.width} ${layout.height}`);
    const defs = document.createElementNS(SVG, "defs");
    const marker = document.createElementNS(SVG, "marker");
    for (const [name, value] of Object.entries({
      id: this.#arrowId,
      viewBox: "0 0 8 8",
      refX: "7",
      refY: "4",
      // In graph units, so an arrowhead keeps its size on a highlighted (thicker) edge.
      markerUnits: "userSpaceOnUse",
      markerWidth: "7",
      markerHeight: "7",
      orient: "auto-start-reverse",
    })) {
      marker.setAttribute(name, value);
    }
    const tip = document.createElementNS(SVG, "path");
    tip.setAttribute("d", "M0,0 L8,4 L0,8 z");
    tip.setAttribute("class", "cnnviz-graph-arrow");
    marker.append(tip);
    defs.append(marker);
    svg.append(defs);
    for (const edge of layout.edges) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute(
        "d",
        edge.points.map((p, i) => `${i === 0 ? "M" : "L"}${round(p.x)},${round(p.y)}`).join(" "),
      );
      path.setAttribute("class", "cnnviz-graph-edge");
      path.setAttribute("marker-end", `url(#${this.#arrowId})`);
      path.dataset.source = edge.source;
      path.dataset.target = edge.target;
      svg.append(path);
    }
  }

  #syncSelection(): void {
    const selected = this.#selected;
    const lit = new Set<string>();
    for (const [id, element] of this.#elements) {
      const on = selected !== "" && element.dataset.graphNode === selected;
      if (on) lit.add(id);
      setAttrs(element, { "aria-selected": on ? "true" : "false" });
      element.classList.toggle("is-focused", id === this.#focused);
    }
    for (const path of this.#edges.querySelectorAll<SVGPathElement>(".cnnviz-graph-edge")) {
      const active = lit.has(path.dataset.source ?? "") || lit.has(path.dataset.target ?? "");
      path.classList.toggle("is-active", active);
    }
    setAttrs(this.#viewport, { "aria-activedescendant": this.#elementIds.get(this.#focused) });
  }

  #syncText(): void {
    const lang = this.#lang;
    setAttrs(this.#viewport, { "aria-label": say(lang, "graph") });
    setAttrs(this.#zoomIn, { title: say(lang, "zoomIn"), "aria-label": say(lang, "zoomIn") });
    setAttrs(this.#zoomOut, { title: say(lang, "zoomOut"), "aria-label": say(lang, "zoomOut") });
    setAttrs(this.#fitButton, { title: say(lang, "fitHint") });
    this.#fitButton.textContent = say(lang, "fit");
    this.#note.textContent = this.#graph.note;
    this.#note.hidden = this.#graph.note === "";
    this.#syncStatus();
  }

  #syncStatus(): void {
    const lang = this.#lang;
    const text =
      this.#state === "loading" || this.#busy
        ? say(lang, "layingOut")
        : this.#state === "error"
          ? say(lang, "failed", { error: this.#error })
          : this.#state === "empty"
            ? say(lang, "empty")
            : "";
    this.#status.textContent = text;
    this.#status.hidden = text === "";
    this.#status.classList.toggle("is-error", this.#state === "error");
    // Over the old drawing: a small note at the top instead of the whole view.
    this.#status.classList.toggle("is-busy", this.#busy && this.#state !== "loading");
    setAttrs(this.#viewport, {
      "aria-busy": this.#busy || this.#state === "loading" ? "true" : undefined,
    });
  }

  // ------------------------------------------------------------- pan and zoom

  #viewportSize(): [number, number] {
    return [this.#viewport.clientWidth, this.#viewport.clientHeight];
  }

  #applyTransform(): void {
    this.#stage.style.transform = `translate(${round(this.#tx)}px, ${round(this.#ty)}px) scale(${this.#k})`;
  }

  /** First view of a graph: the full width at most at 100%, its inputs at the top. */
  #initialView(): void {
    const layout = this.#layout;
    const [width, height] = this.#viewportSize();
    if (!layout || width <= 0 || height <= 0) return;
    this.#k = Math.max(MIN_ZOOM, Math.min(1, (width - 2 * PAD) / Math.max(1, layout.width)));
    this.#tx = (width - layout.width * this.#k) / 2;
    this.#ty = layout.height * this.#k < height ? (height - layout.height * this.#k) / 2 : PAD;
    this.#applyTransform();
    const selected = this.#boxOfLayer(this.#selected);
    if (selected) this.#revealBox(selected.id, false);
  }

  /** Pans (zoom kept) so the box is in view; `centre` centres it when it was not. */
  #revealBox(id: string, centre = true): void {
    const box = this.#layout?.byId.get(id);
    const [width, height] = this.#viewportSize();
    if (!box || width <= 0 || height <= 0) return;
    const k = this.#k;
    const left = box.x * k + this.#tx;
    const top = box.y * k + this.#ty;
    const right = left + box.width * k;
    const bottom = top + box.height * k;
    const inside = left >= 0 && top >= 0 && right <= width && bottom <= height;
    if (inside) return;
    if (centre) {
      this.#tx = width / 2 - (box.x + box.width / 2) * k;
      this.#ty = height / 2 - (box.y + box.height / 2) * k;
    } else {
      if (left < 0) this.#tx -= left - PAD;
      else if (right > width) this.#tx -= right - width + PAD;
      if (top < 0) this.#ty -= top - PAD;
      else if (bottom > height) this.#ty -= bottom - height + PAD;
    }
    this.#applyTransform();
  }

  #onWheel(event: WheelEvent): void {
    if (!this.#layout) return;
    event.preventDefault(); // the wheel zooms the graph instead of scrolling the notebook
    const rect = this.#viewport.getBoundingClientRect();
    const unit = event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 1 : 0.0015;
    const factor = Math.exp(-event.deltaY * unit);
    this.zoomBy(factor, { x: event.clientX - rect.left, y: event.clientY - rect.top });
  }

  #onPointerDown(event: PointerEvent): void {
    this.#viewport.classList.remove("is-keyboard");
    if (event.button !== 0 || (event.target as Element | null)?.closest?.("button")) return;
    this.#press = {
      x: event.clientX,
      y: event.clientY,
      tx: this.#tx,
      ty: this.#ty,
      id: event.pointerId,
    };
    this.#dragged = false;
  }

  #onPointerMove(event: PointerEvent): void {
    const press = this.#press;
    if (!press || press.id !== event.pointerId) return;
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (!this.#dragged && Math.hypot(dx, dy) < DRAG) return;
    if (!this.#dragged) {
      this.#dragged = true;
      this.#viewport.classList.add("is-panning");
      try {
        this.#viewport.setPointerCapture(event.pointerId);
      } catch {
        // a pointer that is already gone cannot be captured; the pan still follows it
      }
    }
    this.#tx = press.tx + dx;
    this.#ty = press.ty + dy;
    this.#placed = true;
    this.#applyTransform();
  }

  #onPointerUp(event: PointerEvent): void {
    if (!this.#press || this.#press.id !== event.pointerId) return;
    this.#press = null;
    this.#viewport.classList.remove("is-panning");
  }

  // ----------------------------------------------------------- click and keys

  #onClick(event: MouseEvent): void {
    if (this.#dragged) {
      this.#dragged = false; // the end of a pan, not a click
      return;
    }
    const target = event.target instanceof Element ? event.target : null;
    const toggle = target?.closest<HTMLElement>("[data-role=graph-group-toggle]");
    const group =
      toggle?.dataset.group ??
      target?.closest<HTMLElement>(".cnnviz-ggroup-head")?.parentElement?.dataset.groupId;
    this.#viewport.focus({ preventScroll: true });
    if (group !== undefined) {
      this.setCollapsed(group, !this.#collapsed.has(group));
      return;
    }
    const id = target?.closest<HTMLElement>(".cnnviz-gnode")?.dataset.nodeId;
    if (id !== undefined) this.#activate(id);
  }

  #onDoubleClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const id = target?.closest<HTMLElement>(".cnnviz-gnode.is-collapsed")?.dataset.nodeId;
    if (id !== undefined) this.setCollapsed(id, false);
  }

  /** Focuses a box and selects its layer (a folded group without a layer unfolds). */
  #activate(id: string): void {
    this.#focused = id;
    const node = this.#index.byId.get(id);
    const layer = node?.layer ?? null;
    if (layer !== null) {
      if (layer !== this.#selected) {
        this.#selected = layer;
        this.#options.onSelect(layer);
      }
    } else if (this.#collapsed.has(id)) {
      this.setCollapsed(id, false);
      return;
    }
    this.#syncSelection();
  }

  #onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    if (key === "+" || key === "=") return this.#handled(event, () => this.zoomBy(STEP));
    if (key === "-" || key === "_") return this.#handled(event, () => this.zoomBy(1 / STEP));
    if (key === "0") return this.#handled(event, () => this.fit());
    const layout = this.#layout;
    if (!layout) return;
    const current = this.#focused || this.#boxOfLayer(this.#selected)?.id || "";
    if (key === "Enter" && current) return this.#handled(event, () => this.#activate(current));
    if (key === " " && current) {
      return this.#handled(event, () => {
        if (this.#collapsed.has(current)) this.setCollapsed(current, false);
        else {
          const parent = this.#index.byId.get(current)?.parent;
          if (parent) this.setCollapsed(parent, true);
        }
      });
    }
    const next = this.#walk(layout, current, key);
    if (next === undefined) return;
    this.#handled(event, () => {
      this.#focused = next;
      this.#syncSelection();
      this.#revealBox(next, false);
    });
  }

  #handled(event: KeyboardEvent, action: () => void): void {
    event.preventDefault();
    this.#viewport.classList.add("is-keyboard");
    action();
  }

  /** Where an arrow key goes from `from`; undefined when the key is not a move. */
  #walk(layout: GraphLayout, from: string, key: string): string | undefined {
    const boxes = layout.boxes.filter((b) => b.shape !== "group");
    if (!["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End"].includes(key)) {
      return undefined;
    }
    if (boxes.length === 0) return undefined;
    if (key === "Home") return boxes[0]?.id;
    if (key === "End") return boxes[boxes.length - 1]?.id;
    const here = layout.byId.get(from);
    if (!here || here.shape === "group") return boxes[0]?.id;
    const cx = here.x + here.width / 2;
    const cy = here.y + here.height / 2;
    const centreX = (b: LaidBox) => b.x + b.width / 2;
    let candidates: LaidBox[];
    if (key === "ArrowDown" || key === "ArrowUp") {
      const down = key === "ArrowDown";
      const ids = layout.edges
        .filter((e) => (down ? e.source : e.target) === from)
        .map((e) => (down ? e.target : e.source));
      candidates = ids.map((id) => layout.byId.get(id)).filter((b): b is LaidBox => !!b);
      // Several successors (a branch): the one straight ahead first.
      candidates.sort((a, b) => Math.abs(centreX(a) - cx) - Math.abs(centreX(b) - cx));
    } else {
      const right = key === "ArrowRight";
      candidates = boxes.filter(
        (b) =>
          b.id !== from &&
          b.y <= cy &&
          b.y + b.height >= cy &&
          (right ? centreX(b) > cx : centreX(b) < cx),
      );
      candidates.sort((a, b) => Math.abs(centreX(a) - cx) - Math.abs(centreX(b) - cx));
    }
    return candidates[0]?.id ?? from;
  }

  #boxOfLayer(layer: string): GraphNodeJson | undefined {
    if (layer === "") return undefined;
    return this.#graph.nodes.find((n) => n.layer === layer);
  }
}

function place(element: HTMLElement, box: LaidBox): void {
  element.style.left = `${round(box.x)}px`;
  element.style.top = `${round(box.y)}px`;
  element.style.width = `${round(box.width)}px`;
  element.style.height = `${round(box.height)}px`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
