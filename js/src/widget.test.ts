import { afterEach, describe, expect, it, vi } from "vitest";
import {
  FakeModel,
  layer,
  mountOne,
  mountWidget,
  pngBytes,
  renderInto,
  resultMessage,
  redrawn,
} from "./fakeModel";
import createWidget from "./widget";

const LAYERS = [layer("conv1"), layer("conv2")];
const SAMPLES = [
  { thumbnail: pngBytes(1), caption: "cat" },
  { thumbnail: new Uint8Array([137, 80, 78, 71]).buffer, caption: "" },
];

function q<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`nothing matches ${selector}`);
  return found;
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("widget", () => {
  it("draws the scoped root with no shadow root", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { el, root } = await mountOne(model);
    expect(el.shadowRoot).toBeNull();
    expect(root.className).toBe("cnnviz");
    expect(root.getAttribute("lang")).toBe("en");
  });

  it("picks samples from thumbnails and sets the sample trait", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1", samples: SAMPLES });
    const { root } = await mountOne(model);
    const picker = q(root, "[data-role=sample]");
    const buttons = [...picker.querySelectorAll<HTMLButtonElement>("button")];
    expect(buttons).toHaveLength(2);
    expect(buttons.map((b) => b.getAttribute("aria-pressed"))).toEqual(["true", "false"]);
    expect(buttons[0]?.title).toBe("cat");
    expect(buttons[1]?.title).toBe("Sample 2");
    expect(picker.querySelectorAll("img")).toHaveLength(2);
    expect(picker.querySelector("img")?.getAttribute("src")).toMatch(/^(blob|data):/);
    buttons[1]?.click();
    expect(model.get("sample")).toBe(1);
    expect(model.saved.at(-1)?.sample).toBe(1);
    await redrawn();
    expect(buttons.map((b) => b.getAttribute("aria-pressed"))).toEqual(["false", "true"]);
  });

  it("draws tabs from the views trait and switches view on click", async () => {
    const model = new FakeModel({
      layers: LAYERS,
      layer: "conv1",
      views: ["activations", "weights"],
    });
    const { root } = await mountOne(model);
    const tabs = [...q(root, "[role=tablist]").querySelectorAll<HTMLElement>("[data-view]")];
    expect(tabs.map((t) => [t.dataset.view, t.textContent])).toEqual([
      ["activations", "Feature maps"],
      ["weights", "Weights"],
    ]);
    tabs[1]?.click();
    expect(model.get("view")).toBe("weights");
    expect(model.saved).toHaveLength(1);
    await redrawn();
    expect(tabs[1]?.getAttribute("aria-selected")).toBe("true");
    expect(q(root, "[data-panel]").dataset.view).toBe("weights");
    model.set("views", ["activations"]);
    expect(root.querySelectorAll("[role=tab]")).toHaveLength(1);
  });

  it("speaks Korean with lang='ko', and switches live", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1", lang: "ko", samples: SAMPLES });
    const { root } = await mountOne(model);
    expect(root.getAttribute("lang")).toBe("ko");
    expect(q(root, ".cnnviz-count").textContent).toBe("레이어 2개");
    expect(q(root, "[data-view=activations]").textContent).toBe("특징 맵");
    expect(q(root, ".cnnviz-colhead").textContent).toContain("출력 형태");
    expect(q(root, "[data-role=loading]").textContent).toBe("계산 중…");
    expect(root.querySelectorAll("[data-role=sample] button")[1]?.getAttribute("title")).toBe(
      "샘플 2",
    );
    model.set("lang", "en");
    expect(q(root, "[data-view=activations]").textContent).toBe("Feature maps");
    expect(q(root, ".cnnviz-count").textContent).toBe("2 layers");
  });

  it("keeps two views of one model in step", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const [a, b] = await mountWidget(model, 2);
    if (!a || !b) throw new Error("two views expected");
    q(b.root, "[data-layer=conv2]").click();
    await redrawn();
    for (const view of [a, b]) {
      expect(q(view.root, "[data-layer=conv2]").getAttribute("aria-selected")).toBe("true");
      expect(q(view.root, "[data-panel]").dataset).toMatchObject({
        layer: "conv2",
        state: "loading",
      });
    }
    model.emitCustom(resultMessage(3, "conv2"), [pngBytes()]);
    for (const view of [a, b]) {
      expect(q(view.root, "[data-panel]").dataset.state).toBe("ready");
      expect(view.root.querySelector("[data-panel] img")).not.toBeNull();
    }
    // Element ids stay unique across views of one page.
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    a.cleanup();
    model.emitCustom(resultMessage(4, "conv2", { caption: "again" }), [pngBytes()]);
    expect(b.root.textContent).toContain("again");
  });

  it("puts a clicked choice's redraw off until the kernel answers", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = q(root, "[data-panel]");
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
    expect(p.dataset.state).toBe("ready");
    // A click: the choice goes out, the panel's attributes say "loading" at once, and the
    // page is not redrawn yet (the old row stays marked, the old picture stays as it was).
    q(root, "[data-layer=conv2]").click();
    expect(model.saved.at(-1)?.layer).toBe("conv2");
    expect(p.dataset).toMatchObject({ layer: "conv2", state: "loading" });
    expect(q(root, "[data-layer=conv1]").getAttribute("aria-selected")).toBe("true");
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv1");
    // The answer draws everything in one go.
    model.emitCustom(resultMessage(2, "conv2"), [pngBytes(1)]);
    expect(p.dataset).toMatchObject({ layer: "conv2", state: "ready" });
    expect(q(root, "[data-layer=conv2]").getAttribute("aria-selected")).toBe("true");
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv2");
    // No answer: drawn as loading after REDRAW_AFTER_MS.
    q(root, "[data-layer=conv1]").click(); // conv1 is in the browser's store: drawn at once
    expect(q(root, "[data-layer=conv1]").getAttribute("aria-selected")).toBe("true");
    expect(p.dataset.state).toBe("ready");
    q(root, "[data-layer=conv2]").click(); // held too: drawn at once
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv2");
    model.set("layers", [...LAYERS, layer("conv3")]);
    q(root, "[data-layer=conv3]").click();
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv2");
    await redrawn();
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv3");
    expect(q(root, "[data-layer=conv3]").getAttribute("aria-selected")).toBe("true");
    expect(p.dataset.state).toBe("loading");
    // A key's choice is drawn at once: the focus follows the key.
    const tree = q(root, "[role=tree]");
    tree.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowUp", bubbles: true }));
    expect(model.get("layer")).toBe("conv2");
    expect(q(root, "[data-layer=conv2]").getAttribute("aria-selected")).toBe("true");
    expect(q(root, ".cnnviz-caption-layer").textContent).toBe("conv2");
  });

  it("sends one refresh for views rendered together", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    await mountWidget(model, 3);
    expect(model.sent).toEqual([{ type: "refresh" }]);
  });

  it("shows a late-opened view what is known, without a second request", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const widget = createWidget();
    const signal = new AbortController().signal;
    await widget.initialize?.({ model: model.proxy(), signal } as never);
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
    const late = await renderInto(widget, model);
    expect(q(late.root, "[data-panel]").dataset.state).toBe("ready");
    expect(model.sent).toEqual([]);
  });

  it("removes its listeners on cleanup", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const before = model.listenerCount();
    const widget = createWidget();
    const signal = new AbortController().signal;
    const stop = await widget.initialize?.({ model: model.proxy(), signal } as never);
    const perModel = model.listenerCount() - before;
    expect(perModel).toBe(1);
    const view = await renderInto(widget, model);
    view.cleanup();
    expect(model.listenerCount()).toBe(before + perModel);
    expect(view.root.isConnected).toBe(false);
    if (typeof stop === "function") await stop();
    expect(model.listenerCount()).toBe(before);
  });

  it("retries with a refresh when the selected layer is clicked again in the error state", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1", snapshot: {} });
    const { root } = await mountOne(model);
    model.sent.length = 0;
    const row = q(root, "[data-layer=conv1]:not([data-panel])");
    // Ready: a click on the selected row changes nothing and asks nothing.
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
    row.click();
    expect(model.sent).toEqual([]);
    expect(model.saved).toEqual([]);
    model.emitCustom({
      type: "error",
      id: 2,
      layer: "conv1",
      view: "activations",
      sample: 0,
      message: "out of memory",
    });
    expect(q(root, "[data-panel]").dataset.state).toBe("error");
    row.click();
    expect(model.sent).toEqual([{ type: "refresh" }]);
    expect(model.saved).toEqual([]);
    // The kernel's answer to the retry clears the error.
    model.emitCustom({ type: "pending", id: 3, layer: "conv1", view: "activations", sample: 0 });
    expect(q(root, "[data-panel]").dataset.state).toBe("loading");
    model.emitCustom(resultMessage(3, "conv1"), [pngBytes()]);
    expect(q(root, "[data-panel]").dataset.state).toBe("ready");
  });

  it("keeps data-panel current across every view and ignores other views' results", async () => {
    const views = ["activations", "weights", "gradcam", "saliency"];
    const model = new FakeModel({ layers: LAYERS, layer: "conv1", views });
    const { root } = await mountOne(model);
    const panel = q(root, "[data-panel]");
    for (const view of views) {
      q(root, `[role=tab][data-view=${view}]`).click();
      expect(panel.dataset).toMatchObject({ view, layer: "conv1", state: "loading" });
      // A result for the feature maps does not make another tab ready.
      if (view !== "activations") {
        model.emitCustom(resultMessage(50, "conv1"), [pngBytes()]);
        expect(panel.dataset.state).toBe("loading");
      }
      model.emitCustom(resultMessage(100 + views.indexOf(view), "conv1", { view }), [
        pngBytes(),
        pngBytes(1),
      ]);
      expect(panel.dataset).toMatchObject({ view, state: "ready" });
    }
  });

  it("copes with missing or odd trait values", async () => {
    const model = new FakeModel({ layers: undefined, samples: null, views: [] } as never);
    const { root } = await mountOne(model);
    expect(q(root, ".cnnviz-empty").textContent).toBe("No layers");
    expect(q(root, "[data-role=sample]").hidden).toBe(true);
    expect(root.querySelectorAll("[role=tab]")).toHaveLength(1);
    expect(model.sent).toEqual([]);
  });
});
