import { afterEach, describe, expect, it, vi } from "vitest";
import nested from "./fixtures/graph_nested.json";
import resnet from "./fixtures/graph_resnet.json";
import skip from "./fixtures/graph_skip.json";
import torchGraph from "./fixtures/graph_torch.json";
import { layoutGraph, toGraph } from "./graphLayout";
import { GraphView } from "./graphView";

const controllers: AbortController[] = [];
// Tests that lay out the ResNet-sized graph: a few seconds when other work shares the CPU.
const SLOW = 60_000;

afterEach(() => {
  for (const c of controllers.splice(0)) c.abort();
  document.body.replaceChildren();
});

async function mount(graph: unknown, lang: "en" | "ko" = "en") {
  const controller = new AbortController();
  controllers.push(controller);
  const onSelect = vi.fn<(layer: string) => void>();
  const view = new GraphView({ signal: controller.signal, onSelect, lang });
  document.body.append(view.element);
  view.setGraph(graph);
  await view.whenLaidOut();
  return { view, onSelect, root: view.element };
}

function box(root: HTMLElement, layer: string): HTMLElement {
  const found = root.querySelector<HTMLElement>(`[data-graph-node="${CSS.escape(layer)}"]`);
  if (!found) throw new Error(`no box for ${layer}`);
  return found;
}

function viewport(root: HTMLElement): HTMLElement {
  return root.querySelector(".cnnviz-graph-viewport") as HTMLElement;
}

function press(root: HTMLElement, key: string): void {
  viewport(root).dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
}

function focusedId(root: HTMLElement): string | undefined {
  const id = viewport(root).getAttribute("aria-activedescendant");
  return id ? (document.getElementById(id)?.dataset.nodeId ?? undefined) : undefined;
}

/** Gives the viewport a size (happy-dom lays nothing out, so every size reads 0). */
function sized(root: HTMLElement, width: number, height: number): void {
  const vp = viewport(root);
  Object.defineProperty(vp, "clientWidth", { configurable: true, get: () => width });
  Object.defineProperty(vp, "clientHeight", { configurable: true, get: () => height });
  vp.getBoundingClientRect = () => new DOMRect(0, 0, width, height);
}

function transform(root: HTMLElement): string {
  return (root.querySelector(".cnnviz-graph-stage") as HTMLElement).style.transform;
}

describe("graph view", () => {
  it("draws a box per node with name, type and output shape where the layout put it", async () => {
    const graph = toGraph(torchGraph);
    const { view, root } = await mount(torchGraph);
    expect(root.dataset.state).toBe("ready");
    const layout = view.layout;
    if (!layout) throw new Error("no layout");
    for (const node of graph.nodes) {
      const element = root.querySelector<HTMLElement>(
        `[data-node-id="${CSS.escape(node.id)}"], [data-group-id="${CSS.escape(node.id)}"]`,
      );
      expect(element, node.id).not.toBeNull();
      const laid = layout.byId.get(node.id);
      expect(parseFloat(element?.style.left ?? "")).toBeCloseTo(laid?.x ?? NaN, 1);
      expect(parseFloat(element?.style.top ?? "")).toBeCloseTo(laid?.y ?? NaN, 1);
      expect(parseFloat(element?.style.width ?? "")).toBeCloseTo(laid?.width ?? NaN, 1);
    }
    const conv = box(root, "stem");
    expect(conv.querySelector(".cnnviz-gnode-name")?.textContent).toBe("stem");
    expect(conv.querySelector(".cnnviz-gnode-type")?.textContent).toBe("Conv2d");
    expect(conv.querySelector(".cnnviz-gnode-shape")?.textContent).toBe("8 × 8 × 8");
    // Operations have boxes, but no layer to select.
    const add = root.querySelector<HTMLElement>('[data-node-id="add"]');
    expect(add?.classList.contains("is-op")).toBe(true);
    expect(add?.hasAttribute("data-graph-node")).toBe(false);
    expect(add?.textContent).toContain("add");
    // One path per edge, with an arrowhead.
    const paths = root.querySelectorAll(".cnnviz-graph-edge");
    expect(paths).toHaveLength(graph.edges.length);
    expect(paths[0]?.getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/);
    expect(paths[0]?.getAttribute("marker-end")).toMatch(/^url\(#cnnviz-graph-arrow-\d+\)$/);
  });

  it("shows layer names as text, never as markup", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    const { root, onSelect } = await mount({
      nodes: [
        { id: "x", label: "x", type: "InputLayer", layer: "x", parent: null, kind: "input" },
        { id: evil, label: evil, type: "<b>Conv2D</b>", layer: evil, parent: null, kind: "conv" },
      ],
      edges: [["x", evil]],
      source: "keras",
      note: "<script>alert(2)</script>",
    });
    expect(root.querySelector("img, b, script")).toBeNull();
    const element = box(root, evil);
    expect(element.querySelector(".cnnviz-gnode-name")?.textContent).toBe(evil);
    expect(element.querySelector(".cnnviz-gnode-type")?.textContent).toBe("<b>Conv2D</b>");
    expect(root.querySelector(".cnnviz-graph-note")?.textContent).toBe("<script>alert(2)</script>");
    element.click();
    expect(onSelect).toHaveBeenCalledWith(evil);
  });

  it("selects a layer on click, and highlights what select() is given", async () => {
    const { view, root, onSelect } = await mount(skip);
    box(root, "conv_b").click();
    expect(onSelect).toHaveBeenCalledWith("conv_b");
    expect(box(root, "conv_b").getAttribute("aria-selected")).toBe("true");
    view.select("bn"); // the explorer answers with the layer it now shows
    expect(box(root, "bn").getAttribute("aria-selected")).toBe("true");
    expect(box(root, "conv_b").getAttribute("aria-selected")).toBe("false");
    const selected = root.querySelectorAll('[aria-selected="true"]');
    expect([...selected].map((e) => (e as HTMLElement).dataset.graphNode)).toEqual(["bn"]);
    const active = [...root.querySelectorAll<SVGPathElement>(".cnnviz-graph-edge.is-active")];
    expect(active.map((p) => `${p.dataset.source}>${p.dataset.target}`).sort()).toEqual([
      "bn>add",
      "conv_b>bn",
    ]);
    // A click on the selected box again, or on an operation, selects nothing new.
    onSelect.mockClear();
    box(root, "bn").click();
    expect(onSelect).not.toHaveBeenCalled();
  });

  it("walks the graph with the arrow keys and selects with Enter", async () => {
    const { view, root, onSelect } = await mount(skip);
    view.select("conv_a");
    expect(focusedId(root)).toBe("conv_a");
    press(root, "ArrowUp");
    expect(focusedId(root)).toBe("image");
    press(root, "ArrowDown");
    press(root, "ArrowDown"); // conv_a has two successors: conv_b and (the skip) add
    const afterBranch = focusedId(root);
    expect(["conv_b", "add"]).toContain(afterBranch);
    expect(viewport(root).classList.contains("is-keyboard")).toBe(true);
    // Down from add reaches relu; Up from add returns to one of its two inputs.
    view.select("add");
    press(root, "ArrowDown");
    expect(focusedId(root)).toBe("relu");
    press(root, "ArrowUp");
    press(root, "ArrowUp");
    expect(["bn", "conv_a"]).toContain(focusedId(root));
    const focused = focusedId(root) as string;
    expect(root.querySelector(`[data-node-id="${focused}"]`)?.classList).toContain("is-focused");
    onSelect.mockClear();
    press(root, "Enter");
    expect(onSelect).toHaveBeenCalledWith(focused);
    press(root, "End");
    expect(focusedId(root)).toBe("probs");
    press(root, "Home");
    expect(focusedId(root)).toBe("image");
  });

  it("moves Left and Right between boxes side by side", async () => {
    const node = (id: string) => ({ id, label: id, type: "Dense", layer: id, parent: null });
    const { view, root } = await mount({
      nodes: [node("left_in"), node("right_in"), node("joined")],
      edges: [
        ["left_in", "joined"],
        ["right_in", "joined"],
      ],
    });
    const layout = view.layout;
    const [a, b] = [layout?.byId.get("left_in"), layout?.byId.get("right_in")];
    expect(a?.y).toBe(b?.y);
    const [first, second] =
      (a?.x ?? 0) < (b?.x ?? 0) ? ["left_in", "right_in"] : ["right_in", "left_in"];
    view.select(first);
    press(root, "ArrowRight");
    expect(focusedId(root)).toBe(second);
    press(root, "ArrowRight"); // nothing further right: stays
    expect(focusedId(root)).toBe(second);
    press(root, "ArrowLeft");
    expect(focusedId(root)).toBe(first);
  });

  it("collapses a group from its header, hiding its members, and expands it again", async () => {
    const { view, root } = await mount(nested);
    expect(root.querySelectorAll('[data-graph-node^="features/"]')).toHaveLength(7);
    const head = root.querySelector<HTMLElement>('[data-group-id="features"] .cnnviz-ggroup-head');
    head?.click();
    await view.whenLaidOut();
    expect(view.isCollapsed("features")).toBe(true);
    expect(root.querySelectorAll('[data-graph-node^="features/"]')).toHaveLength(0);
    const folded = box(root, "features");
    expect(folded.classList.contains("is-collapsed")).toBe(true);
    expect(folded.textContent).toContain("7 nodes inside");
    // Edges into and out of the group end at its box.
    const ends = [...root.querySelectorAll<SVGPathElement>(".cnnviz-graph-edge")].map(
      (p) => `${p.dataset.source}>${p.dataset.target}`,
    );
    expect(ends.sort()).toEqual(["features>flat", "flat>probs", "image>features"]);
    const toggle = folded.querySelector<HTMLElement>("[data-role=graph-group-toggle]");
    expect(toggle?.getAttribute("aria-expanded")).toBe("false");
    toggle?.click();
    await view.whenLaidOut();
    expect(root.querySelectorAll('[data-graph-node^="features/"]')).toHaveLength(7);
    expect(root.querySelector('[data-group-id="features"]')).not.toBeNull();
  });

  it("says it is laying out, over the whole view first and over the old drawing after a fold", async () => {
    const controller = new AbortController();
    controllers.push(controller);
    const view = new GraphView({ signal: controller.signal, onSelect: () => undefined });
    document.body.append(view.element);
    const root = view.element;
    const status = root.querySelector(".cnnviz-graph-status") as HTMLElement;
    view.setGraph(nested);
    expect(root.dataset.state).toBe("loading");
    expect(status.hidden).toBe(false);
    expect(status.textContent).toBe("Laying out the graph…");
    expect(status.classList.contains("is-busy")).toBe(false); // nothing drawn yet: all of it
    expect(viewport(root).getAttribute("aria-busy")).toBe("true");
    await view.whenLaidOut();
    expect(root.dataset.state).toBe("ready");
    expect(status.hidden).toBe(true);
    expect(viewport(root).hasAttribute("aria-busy")).toBe(false);
    const before = view.layout;
    view.setCollapsed("features", true);
    // The old drawing stays, with a note at the top, until the new layout is drawn.
    expect(view.layout).toBe(before);
    expect(root.querySelectorAll('[data-graph-node^="features/"]')).toHaveLength(7);
    expect(status.hidden).toBe(false);
    expect(status.textContent).toBe("Laying out the graph…");
    expect(status.classList.contains("is-busy")).toBe(true);
    expect(viewport(root).getAttribute("aria-busy")).toBe("true");
    await view.whenLaidOut();
    expect(status.hidden).toBe(true);
    expect(status.classList.contains("is-busy")).toBe(false);
    expect(root.querySelectorAll('[data-graph-node^="features/"]')).toHaveLength(0);
  });

  it(
    "draws only the newest of folds asked for in a row",
    async () => {
      const { view, root } = await mount(resnet);
      const nodes = root.querySelector(".cnnviz-graph-nodes") as HTMLElement;
      let draws = 0;
      const observer = new MutationObserver(() => (draws += 1));
      observer.observe(nodes, { childList: true });
      const first = view.layout;
      view.setCollapsed("layer1", true);
      view.setCollapsed("layer2", true);
      view.setCollapsed("layer3", true);
      await view.whenLaidOut();
      await Promise.resolve(); // the observer's records come in a microtask
      observer.disconnect();
      expect(draws).toBe(1); // one drawing: the last request's
      expect(view.layout).not.toBe(first);
      for (const group of ["layer1", "layer2", "layer3"]) {
        expect(view.layout?.byId.get(group)?.shape).toBe("collapsed");
      }
      expect(view.layout?.byId.get("layer4")?.shape).toBe("group");
    },
    SLOW,
  );

  it(
    "unfolds the groups that hide a layer selected elsewhere (the layer list)",
    async () => {
      const { view, root } = await mount(resnet);
      view.setCollapsed("layer2", true);
      await view.whenLaidOut();
      expect(root.querySelector('[data-graph-node="layer2.1.conv2"]')).toBeNull();
      view.select("layer2.1.conv2");
      await view.whenLaidOut();
      expect(view.isCollapsed("layer2")).toBe(false);
      expect(box(root, "layer2.1.conv2").getAttribute("aria-selected")).toBe("true");
      // Space folds the group around the focused box; the group's box takes the focus.
      press(root, " ");
      await view.whenLaidOut();
      expect(view.isCollapsed("layer2.1")).toBe(true);
      expect(focusedId(root)).toBe("layer2.1");
    },
    SLOW,
  );

  it(
    "zooms with the buttons and the wheel, fits, and pans by dragging",
    async () => {
      const { view, root, onSelect } = await mount(resnet);
      sized(root, 400, 300);
      view.fit();
      const layout = view.layout;
      if (!layout) throw new Error("no layout");
      expect(view.zoom).toBeCloseTo(
        Math.min((400 - 32) / layout.width, (300 - 32) / layout.height),
      );
      const fitted = view.zoom;
      (root.querySelector("[data-role=graph-zoom-in]") as HTMLElement).click();
      expect(view.zoom).toBeCloseTo(fitted * 1.25);
      (root.querySelector("[data-role=graph-zoom-out]") as HTMLElement).click();
      expect(view.zoom).toBeCloseTo(fitted);
      viewport(root).dispatchEvent(
        new WheelEvent("wheel", { deltaY: -200, clientX: 100, clientY: 100, cancelable: true }),
      );
      expect(view.zoom).toBeGreaterThan(fitted);
      (root.querySelector("[data-role=graph-fit]") as HTMLElement).click();
      expect(view.zoom).toBeCloseTo(fitted);

      const before = transform(root);
      const target = box(root, "conv1");
      const at = { clientX: 50, clientY: 50, pointerId: 1, button: 0, bubbles: true };
      target.dispatchEvent(new PointerEvent("pointerdown", at));
      target.dispatchEvent(new PointerEvent("pointermove", { ...at, clientX: 90, clientY: 70 }));
      target.dispatchEvent(new PointerEvent("pointerup", { ...at, clientX: 90, clientY: 70 }));
      target.click(); // the click that ends a drag is no selection
      expect(onSelect).not.toHaveBeenCalled();
      expect(transform(root)).not.toBe(before);
      const [, x0, y0] = before.match(/translate\(([-\d.]+)px, ([-\d.]+)px\)/) ?? [];
      const [, x1, y1] = transform(root).match(/translate\(([-\d.]+)px, ([-\d.]+)px\)/) ?? [];
      expect(Number(x1) - Number(x0)).toBeCloseTo(40, 0);
      expect(Number(y1) - Number(y0)).toBeCloseTo(20, 0);
    },
    SLOW,
  );

  it(
    "pans a selected box into view",
    async () => {
      const { view, root } = await mount(resnet);
      sized(root, 400, 300);
      view.zoomBy(1); // the reader has placed the view: it stays where it is put
      view.select("fc"); // the last layer, far below the first screen
      const fc = view.layout?.byId.get("fc");
      const [, tx, ty] = transform(root).match(/translate\(([-\d.]+)px, ([-\d.]+)px\)/) ?? [];
      const k = view.zoom;
      const left = (fc?.x ?? 0) * k + Number(tx);
      const top = (fc?.y ?? 0) * k + Number(ty);
      expect(left).toBeGreaterThanOrEqual(0);
      expect(top).toBeGreaterThanOrEqual(0);
      expect(left + (fc?.width ?? 0) * k).toBeLessThanOrEqual(400);
      expect(top + (fc?.height ?? 0) * k).toBeLessThanOrEqual(300);
    },
    SLOW,
  );

  it("does not lay the same graph out again when the trait is set again", async () => {
    const { view } = await mount(skip);
    const layout = view.layout;
    view.setGraph(JSON.parse(JSON.stringify(skip)));
    await view.whenLaidOut();
    expect(view.layout).toBe(layout);
    view.setGraph(nested);
    await view.whenLaidOut();
    expect(view.layout).not.toBe(layout);
    expect(view.layout?.byId.has("features")).toBe(true);
  });

  it("speaks Korean, says how a recorded graph was made, and draws an empty graph", async () => {
    const graph = { ...toGraph(skip), source: "recorded", note: "recorded from a forward pass" };
    const { view, root } = await mount(graph, "ko");
    expect(root.querySelector("[data-role=graph-fit]")?.textContent).toBe("맞춤");
    expect(viewport(root).getAttribute("aria-label")).toBe("모델 그래프");
    const note = root.querySelector<HTMLElement>(".cnnviz-graph-note");
    expect(note?.hidden).toBe(false);
    expect(note?.textContent).toBe("recorded from a forward pass");
    view.setLang("en");
    expect(root.querySelector("[data-role=graph-fit]")?.textContent).toBe("Fit");
    view.setGraph({ nodes: [], edges: [] });
    await view.whenLaidOut();
    expect(root.dataset.state).toBe("empty");
    expect(root.querySelector(".cnnviz-graph-status")?.textContent).toBe("No graph to draw");
    expect(root.querySelectorAll(".cnnviz-gnode")).toHaveLength(0);
  });

  it(
    "draws a ResNet-50-sized graph (timing printed, not asserted)",
    async () => {
      const graph = toGraph(resnet);
      await layoutGraph(toGraph(skip)); // warm the JIT first: its start-up is not the graph's cost
      const cpu = (
        globalThis as { process?: { cpuUsage(p?: unknown): { user: number; system: number } } }
      ).process;
      const controller = new AbortController();
      controllers.push(controller);
      const rows: string[] = [];
      let view: GraphView | null = null;
      const totals: number[] = [];
      for (let i = 0; i < 5; i++) {
        view?.element.remove();
        view = new GraphView({ signal: controller.signal, onSelect: () => undefined });
        document.body.append(view.element);
        const c0 = cpu?.cpuUsage();
        const t0 = performance.now();
        view.setGraph(graph);
        await view.whenLaidOut();
        const total = performance.now() - t0;
        totals.push(total);
        const used = cpu && c0 ? cpu.cpuUsage(c0) : null;
        const cpuMs = used ? ((used.user + used.system) / 1000).toFixed(0) : "?";
        const { layoutMs, drawMs, engine } = view.timings;
        rows.push(
          `setGraph to drawn ${total.toFixed(0)} ms: layout ${layoutMs.toFixed(0)} ms (${engine}),` +
            ` DOM ${drawMs.toFixed(0)} ms; CPU ${cpuMs} ms`,
        );
      }
      expect(view?.element.querySelectorAll(".cnnviz-gnode")).toHaveLength(176);
      expect(view?.element.querySelectorAll(".cnnviz-ggroup")).toHaveLength(24);
      const median = [...totals].sort((a, b) => a - b)[totals.length >> 1] as number;
      console.log(
        `ResNet-50-sized graph, ${graph.nodes.length} nodes (${view?.layout?.grouping}),` +
          ` setGraph to drawn median ${median.toFixed(0)} ms:\n  ${rows.join("\n  ")}`,
      );
    },
    SLOW,
  );
});
