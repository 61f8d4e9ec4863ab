import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeModel, layer, mountOne, weightsMessage } from "./fakeModel";
import { colorbarGradient } from "./weightsView";

const LAYERS = [layer("conv1"), layer("conv2"), layer("dense", { kind: "dense" })];
const VIEWS = ["activations", "weights", "gradcam", "saliency"];

function q<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`nothing matches ${selector}`);
  return found;
}

async function weightsPanel(extra: Record<string, unknown> = {}) {
  const model = new FakeModel({
    layers: LAYERS,
    layer: "conv1",
    view: "weights",
    views: VIEWS,
    ...extra,
  });
  const view = await mountOne(model);
  const panel = q(view.root, "[data-panel]");
  return { model, panel, ...view };
}

/** A bounding box for an element, as a browser would measure it. */
function measure(el: Element, left: number, top: number, width: number, height: number): void {
  vi.spyOn(el, "getBoundingClientRect").mockReturnValue({
    left,
    top,
    width,
    height,
    right: left + width,
    bottom: top + height,
    x: left,
    y: top,
    toJSON: () => ({}),
  } as DOMRect);
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("weights tab", () => {
  it("draws both grids with headings, the colour bar and the histogram", async () => {
    const { model, panel } = await weightsPanel();
    const { msg, buffers } = weightsMessage(1, "conv1", { bins: 12 });
    model.emitCustom(msg, buffers);
    expect(panel.dataset).toMatchObject({ view: "weights", state: "ready", layer: "conv1" });

    const grids = [...panel.querySelectorAll<HTMLElement>("[data-role=grid]")];
    expect(grids.map((g) => g.querySelector("figcaption")?.textContent)).toEqual([
      "Trained",
      "Untrained copy",
    ]);
    for (const grid of grids) {
      const img = q<HTMLImageElement>(grid, "img");
      expect(img.getAttribute("src")).toMatch(/^(blob|data):/);
      expect(img.dataset).toMatchObject({ rows: "2", cols: "16", tileWidth: "30", gap: "1" });
    }
    // Each grid has its own PNG (buffers[0] and buffers[1]).
    const srcs = grids.map((g) => q<HTMLImageElement>(g, "img").src);
    expect(new Set(srcs).size).toBe(2);

    const bar = q(panel, "[data-role=colorbar]");
    const ramp = q(bar, ".cnnviz-colorbar-ramp");
    expect(ramp.style.backgroundImage).toContain("linear-gradient");
    expect(ramp.style.backgroundImage).toContain("#053061");
    expect(ramp.style.backgroundImage).toContain("#67001f");
    expect([...bar.querySelectorAll("[data-role=tick]")].map((t) => t.textContent)).toEqual([
      "-0.3",
      "-0.15",
      "0",
      "0.15",
      "0.3",
    ]);

    const hist = q(panel, "[data-role=histogram]");
    const svg = q(hist, "svg");
    expect(svg.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(svg.querySelectorAll("rect[data-series=trained]")).toHaveLength(12);
    expect(svg.querySelectorAll("path[data-series=baseline]")).toHaveLength(1);
    const counts = [...svg.querySelectorAll("rect[data-series=trained]")].map((r) =>
      Number(r.getAttribute("data-count")),
    );
    expect(counts).toEqual(Array.from({ length: 12 }, (_, i) => (i * 7) % 5));
    expect(hist.textContent).toContain("mean 0.031 ± 0.137");
    expect(hist.textContent).toContain("mean -0.004 ± 0.082");
    expect([...svg.querySelectorAll("text[data-tick=x]")].map((t) => t.textContent)).toEqual([
      "-0.3",
      "0",
      "0.3",
    ]);

    const bias = q(panel, "[data-role=bias]");
    expect(bias.querySelectorAll("[data-role=bias-value]")).toHaveLength(32);
    expect(bias.textContent).toContain("Bias (40)");
    expect(bias.textContent).toContain("… 8 more");
  });

  it("keeps bins right for other edge counts", async () => {
    const { model, panel } = await weightsPanel();
    const { msg, buffers } = weightsMessage(1, "conv1", { bins: 50 });
    model.emitCustom(msg, buffers);
    expect(panel.querySelectorAll("svg rect[data-series=trained]")).toHaveLength(50);
  });

  it("sets channel to the clicked tile, at the scale the grid is drawn", async () => {
    const { model, panel } = await weightsPanel();
    const { msg, buffers } = weightsMessage(1, "conv1");
    model.emitCustom(msg, buffers);
    const img = q<HTMLImageElement>(panel, "[data-grid=trained] img");
    // Drawn at 2x (990 x 122) with its top-left corner at (100, 50).
    measure(img, 100, 50, 990, 122);
    // Tile 19 is row 1, col 3: it starts at (3 * 31, 31) image px = (186, 62) on screen.
    img.dispatchEvent(
      new MouseEvent("click", { bubbles: true, clientX: 100 + 186 + 20, clientY: 50 + 62 + 20 }),
    );
    expect(model.get("channel")).toBe(19);
    expect(model.saved.at(-1)?.channel).toBe(19);
    // A click on the 1 px gap between tiles (image x = 30) selects nothing.
    const saves = model.saved.length;
    img.dispatchEvent(
      new MouseEvent("click", { bubbles: true, clientX: 100 + 61, clientY: 50 + 10 }),
    );
    expect(model.saved).toHaveLength(saves);
  });

  it("also hit-tests a grid scaled below 1x and the untrained grid", async () => {
    const { model, panel } = await weightsPanel();
    const { msg, buffers } = weightsMessage(1, "conv1");
    model.emitCustom(msg, buffers);
    const img = q<HTMLImageElement>(panel, "[data-grid=baseline] img");
    measure(img, 0, 0, 495 / 2, 61 / 2);
    img.dispatchEvent(
      new MouseEvent("click", { bubbles: true, clientX: (5 * 31 + 10) / 2, clientY: 10 / 2 }),
    );
    expect(model.get("channel")).toBe(5);
  });

  it("shows the linked filter: numbers in coloured cells, stats, feature map, close", async () => {
    const { model, panel } = await weightsPanel({ channel: 3 });
    const { msg, buffers } = weightsMessage(2, "conv1", { channel: 3 });
    model.emitCustom(msg, buffers);
    const linked = q(panel, "[data-role=linked]");
    expect(linked.hidden).toBe(false);
    expect(linked.textContent).toContain("Filter 3");
    const table = q<HTMLTableElement>(linked, "[data-role=filter-table]");
    const cells = [...table.querySelectorAll("tr")].map((tr) =>
      [...tr.querySelectorAll("td")].map((td) => td.textContent),
    );
    expect(cells).toEqual([
      ["-0.3", "0.0152", "-0.0108"],
      ["-0.123", "0.0109", "0.119"],
      ["-0.129", "0.133", "0.162"],
    ]);
    const first = q<HTMLTableCellElement>(table, "td");
    expect(first.dataset.color).toBe("#053061");
    expect(first.style.backgroundColor).not.toBe("");
    // Dark blue cell: white text; the near-white one next to it: black text.
    expect(first.style.color).toMatch(/#fff|255, 255, 255|white/);
    expect(table.querySelectorAll("td")[1]?.getAttribute("style")).toMatch(
      /color: (#000|rgb\(0, 0, 0\)|black)/,
    );
    const stats = q(linked, "[data-role=filter-stats]").textContent ?? "";
    expect(stats).toContain("bias0.0704");
    expect(stats).toContain("mean-0.0142");
    expect(stats).toContain("std0.142");
    expect(stats).toContain("L2 norm0.428");
    const map = q<HTMLImageElement>(linked, "img[data-role=feature-map]");
    expect(map.getAttribute("src")).toMatch(/^(blob|data):/);
    expect(linked.textContent).toContain("Feature map · channel 3");

    q<HTMLButtonElement>(linked, "[data-role=next]").click();
    expect(model.get("channel")).toBe(4);
    q<HTMLButtonElement>(linked, "[data-role=close-linked]").click();
    expect(model.get("channel")).toBe(-1);
    expect(model.saved.at(-1)?.channel).toBe(-1);
    expect(q(panel, "[data-role=linked]").hidden).toBe(true);
  });

  it("says it is computing while the linked filter is on its way", async () => {
    const { model, panel } = await weightsPanel();
    const first = weightsMessage(1, "conv1");
    model.emitCustom(first.msg, first.buffers);
    model.set("channel", 7);
    const linked = q(panel, "[data-role=linked]");
    expect(linked.hidden).toBe(false);
    expect(linked.textContent).toContain("Filter 7");
    expect(linked.textContent).toContain("Computing…");
    model.emitCustom({ type: "pending", id: 2, layer: "conv1", view: "weights", sample: 0 });
    const next = weightsMessage(2, "conv1", { channel: 7 });
    model.emitCustom(next.msg, next.buffers);
    expect(q(panel, "[data-role=filter-table]")).toBeTruthy();
  });

  it("offers the input channel and RGB only when they apply, and sets the traits", async () => {
    const { model, panel } = await weightsPanel();
    const plain = weightsMessage(1, "conv1");
    model.emitCustom(plain.msg, plain.buffers);
    expect(q(panel, "[data-role=in-channel]").closest("label")?.hidden).toBe(true);
    expect(q(panel, "[data-role=rgb]").closest("label")?.hidden).toBe(true);

    const rich = weightsMessage(2, "conv1", { inChannels: 3, rgbAvailable: true });
    model.emitCustom(rich.msg, rich.buffers);
    const select = q<HTMLSelectElement>(panel, "[data-role=in-channel]");
    expect(select.closest("label")?.hidden).toBe(false);
    expect([...select.options].map((o) => o.value)).toEqual(["0", "1", "2"]);
    select.value = "2";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("in_channel")).toBe(2);
    expect(model.saved.at(-1)?.in_channel).toBe(2);

    const rgb = q<HTMLInputElement>(panel, "[data-role=rgb]");
    expect(rgb.closest("label")?.hidden).toBe(false);
    rgb.checked = true;
    rgb.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("rgb")).toBe(true);
    expect(model.saved.at(-1)?.rgb).toBe(true);
  });

  it("draws a dense matrix with its colour bar and no tile clicks", async () => {
    const { model, panel } = await weightsPanel({ layer: "dense" });
    const { msg, buffers } = weightsMessage(1, "dense");
    const images = (msg.images as Record<string, unknown>[]).map((m) => ({
      ...m,
      kind: "matrix",
      rows: 1,
      cols: 1,
      width: 200,
      height: 400,
      tile_width: 200,
      tile_height: 400,
      gap: 0,
    }));
    model.emitCustom({ ...msg, image: images[0], images }, buffers);
    expect(panel.querySelectorAll("[data-role=grid] img")).toHaveLength(2);
    expect(q(panel, "[data-role=colorbar]").hidden).toBe(false);
    expect(q(panel, "[data-grid=trained]").classList.contains("is-clickable")).toBe(false);
    q(panel, "[data-grid=trained] img").click();
    expect(model.saved).toHaveLength(0);
  });

  it("speaks Korean", async () => {
    const { model, panel } = await weightsPanel({ lang: "ko", channel: 3 });
    const { msg, buffers } = weightsMessage(1, "conv1", { channel: 3 });
    model.emitCustom(msg, buffers);
    const headings = [...panel.querySelectorAll("[data-role=grid] figcaption")].map(
      (f) => f.textContent,
    );
    expect(headings).toEqual(["학습된 가중치", "학습 전 복사본"]);
    expect(q(panel, "[data-role=histogram]").textContent).toContain("평균 0.031 ± 0.137");
    expect(q(panel, "[data-role=linked]").textContent).toContain("필터 3");
    expect(q(panel, "[data-role=close-linked]").getAttribute("aria-label")).toBe("닫기");
    model.set("lang", "en");
    expect(q(panel, "[data-role=close-linked]").getAttribute("aria-label")).toBe("Close");
    expect(panel.querySelector("[data-role=grid] figcaption")?.textContent).toBe("Trained");
  });

  it("never puts kernel colours other than #rrggbb into a style", () => {
    expect(colorbarGradient(["#000000", "red; background: url(x)", "#ffffff"])).toBe(
      "linear-gradient(to right, #000000 0%, #ffffff 100%)",
    );
    expect(colorbarGradient([])).toBeNull();
  });
});
