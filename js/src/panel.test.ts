import { afterEach, describe, expect, it, vi } from "vitest";
import {
  bigPngBytes,
  FakeModel,
  imageMeta,
  layer,
  mountOne,
  pngBytes,
  resultMessage,
} from "./fakeModel";
import { WAIT_MS } from "./panel";

const LAYERS = [layer("conv1"), layer("conv2"), layer("dense", { kind: "dense" })];

function panel(root: HTMLElement): HTMLElement {
  const found = root.querySelector<HTMLElement>("[data-panel]");
  if (!found) throw new Error("no panel");
  return found;
}

function pending(id: number, layerName: string): Record<string, unknown> {
  return { type: "pending", id, layer: layerName, view: "activations", sample: 0 };
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

/** A weights-tab result for conv1, made with `channel` as its linked filter. */
function weights(id: number, channel: number): Record<string, unknown> {
  return resultMessage(id, "conv1", {
    view: "weights",
    options: { in_channel: 0, rgb: false, channel },
    image: imageMeta({ kind: "kernels", role: "trained" }),
  });
}

describe("result panel", () => {
  it("goes from loading to ready when the matching result arrives", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = panel(root);
    expect(p.dataset).toMatchObject({ layer: "conv1", view: "activations", state: "loading" });
    expect(p.querySelector("[data-role=loading]")?.hasAttribute("hidden")).toBe(false);
    model.emitCustom(pending(1, "conv1"));
    expect(p.dataset.state).toBe("loading");
    model.emitCustom(resultMessage(1, "conv1", { warnings: ["3 channels are constant"] }), [
      pngBytes(),
    ]);
    expect(p.dataset.state).toBe("ready");
    const img = p.querySelector("img");
    expect(img?.getAttribute("src")).toMatch(/^(blob|data):/);
    expect(img?.dataset).toMatchObject({
      rows: "4",
      cols: "8",
      tileWidth: "26",
      tileHeight: "26",
      gap: "1",
    });
    expect(p.querySelector(".cnnviz-caption")?.textContent).toContain("conv1");
    expect(p.querySelector(".cnnviz-caption")?.textContent).toContain("32 channels, 26 × 26");
    const warning = p.querySelector("[data-role=warning]");
    expect(warning?.textContent).toContain("3 channels are constant");
    expect(warning?.textContent).toContain("⚠");
    expect(p.querySelector("[data-role=loading]")?.hasAttribute("hidden")).toBe(true);
  });

  it("draws the wait only once it has lasted WAIT_MS, and never for a quick answer", async () => {
    vi.useFakeTimers();
    try {
      const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
      const { root } = await mountOne(model);
      const p = panel(root);
      const figure = p.querySelector(".cnnviz-figure");
      const waiting = (): boolean => figure?.classList.contains("is-waiting") === true;
      // Loading at once (data-state, the overlay not hidden), drawn only after the wait.
      expect(p.dataset.state).toBe("loading");
      expect(p.querySelector("[data-role=loading]")?.hasAttribute("hidden")).toBe(false);
      vi.advanceTimersByTime(WAIT_MS - 1);
      expect(waiting()).toBe(false);
      vi.advanceTimersByTime(1);
      expect(waiting()).toBe(true);
      model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
      expect(p.dataset.state).toBe("ready");
      expect(waiting()).toBe(false);
      // The next layer answers within the wait: nothing is drawn for it, then or later.
      model.set("layer", "conv2");
      expect(p.dataset.state).toBe("loading");
      expect(figure?.classList.contains("is-stale")).toBe(true);
      vi.advanceTimersByTime(WAIT_MS / 2);
      model.emitCustom(resultMessage(2, "conv2"), [pngBytes()]);
      expect(p.dataset.state).toBe("ready");
      vi.advanceTimersByTime(WAIT_MS);
      expect(waiting()).toBe(false);
      // Updates while loading (the kernel's "pending") keep one wait going: it is drawn
      // WAIT_MS after the wait began, not after the last update.
      model.set("layer", "dense");
      vi.advanceTimersByTime(WAIT_MS / 2);
      model.emitCustom(pending(3, "dense"));
      expect(waiting()).toBe(false);
      vi.advanceTimersByTime(WAIT_MS / 2);
      expect(waiting()).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("ignores results for another layer and older requests", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = panel(root);
    model.emitCustom(pending(3, "conv1"));
    model.emitCustom(resultMessage(2, "conv2"), [pngBytes()]);
    expect(p.dataset.state).toBe("loading");
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
    expect(p.dataset.state).toBe("loading");
    expect(p.querySelector("img")).toBeNull();
    model.emitCustom({
      type: "error",
      id: 2,
      layer: "conv1",
      view: "activations",
      sample: 0,
      message: "old",
    });
    expect(p.dataset.state).toBe("loading");
    model.emitCustom(resultMessage(3, "conv1"), [pngBytes()]);
    expect(p.dataset.state).toBe("ready");
  });

  it("keeps the previous image, dimmed, while the next layer loads", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = panel(root);
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes()]);
    const src = p.querySelector("img")?.getAttribute("src");
    model.set("layer", "conv2");
    expect(p.dataset).toMatchObject({ layer: "conv2", state: "loading" });
    expect(p.querySelector("img")?.getAttribute("src")).toBe(src);
    expect(p.querySelector(".cnnviz-figure")?.classList.contains("is-stale")).toBe(true);
    // The old caption described conv1; it must not be shown under conv2's name.
    expect(p.querySelector(".cnnviz-caption")?.textContent).not.toContain("32 channels");
    // ... nor clicked: its tiles would mean conv1's channels.
    expect(p.querySelector(".cnnviz-view")?.hasAttribute("inert")).toBe(true);
    model.emitCustom(resultMessage(2, "conv2", { caption: "conv2 maps" }), [pngBytes(2)]);
    expect(p.querySelector(".cnnviz-figure")?.classList.contains("is-stale")).toBe(false);
    expect(p.querySelector(".cnnviz-view")?.hasAttribute("inert")).toBe(false);
    expect(p.querySelector("img")?.getAttribute("src")).not.toBe(src);
  });

  it("shows a kernel error as text in data-role=error", async () => {
    const model = new FakeModel({
      layers: LAYERS,
      layer: "dense",
      view: "gradcam",
      views: ["activations", "gradcam"],
    });
    const { root } = await mountOne(model);
    const message = "Grad-CAM needs a spatial layer; dense has output shape (None, 10) <b>";
    model.emitCustom({ type: "error", id: 4, layer: "dense", view: "gradcam", sample: 0, message });
    const p = panel(root);
    expect(p.dataset).toMatchObject({ state: "error", view: "gradcam" });
    const error = p.querySelector("[data-role=error]");
    expect(error?.textContent).toBe(message);
    expect(error?.querySelector("b")).toBeNull();
    model.emitCustom(pending(5, "dense"));
    expect(p.dataset.state).toBe("error");
    model.set("view", "activations");
    expect(p.dataset.state).toBe("loading");
    expect(p.querySelector("[data-role=error]")?.hasAttribute("hidden")).toBe(true);
  });

  it("says a kernel error and a refused value in Korean, from their codes", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1", lang: "ko" });
    const { root } = await mountOne(model);
    model.emitCustom({
      type: "error",
      id: 4,
      layer: "conv1",
      view: "activations",
      sample: 0,
      message: "'conv1' has no channel 9.",
      code: "no_channel",
      params: { layer: "'conv1'", channel: 9 },
    });
    const error = panel(root).querySelector("[data-role=error]");
    expect(error?.textContent).toBe("'conv1'에는 채널 9이(가) 없습니다.");
    model.emitCustom({
      type: "rejected",
      trait: "sample",
      value: 7,
      message: "sample must be between 0 and 2, got 7.",
      code: "sample_range",
      params: { max: 2, value: 7 },
    });
    const notice = root.querySelector("[data-role=notice]");
    expect(notice?.textContent).toBe("sample은 0부터 2 사이여야 하는데 7입니다.");
    // In English the kernel's own words; back in Korean the notice follows the language.
    model.set("lang", "en");
    expect(notice?.textContent).toBe("sample must be between 0 and 2, got 7.");
  });

  it("renders the snapshot when there are no live messages, without asking the kernel", async () => {
    const snapshot = {
      ...resultMessage(7, "conv2", { caption: "saved maps", image: imageMeta({ rows: 2 }) }),
      pngs: [pngBytes()],
    };
    const model = new FakeModel({ layers: LAYERS, layer: "conv2", snapshot });
    const { root } = await mountOne(model);
    const p = panel(root);
    expect(p.dataset.state).toBe("ready");
    expect(p.querySelector("img")?.dataset.rows).toBe("2");
    expect(p.textContent).toContain("saved maps");
    expect(model.sent).toEqual([]);
  });

  it("asks the kernel to compute when neither store nor snapshot has the selection", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    await mountOne(model);
    expect(model.sent).toEqual([{ type: "refresh" }]);
  });

  it("marks downsampled images with their true size", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const image = imageMeta({ downsample: 4, true_shape: [224, 224, 64] });
    model.emitCustom(resultMessage(1, "conv1", { image }), [pngBytes()]);
    expect(panel(root).querySelector("img")?.title).toContain("224 × 224 × 64");
  });

  it("puts no overlay on a picture that is already right when the kernel catches up", async () => {
    // A burst of clicks: ipywidgets holds back and merges the trait updates, so the kernel
    // hears of conv1 only after the panel has drawn conv1 from its own store, and then says
    // "pending" for it. The picture on screen is conv1's, made with the same options.
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = panel(root);
    const overlay = (): boolean => !p.querySelector("[data-role=loading]")?.hasAttribute("hidden");
    const dimmed = (): boolean =>
      p.querySelector(".cnnviz-figure")?.classList.contains("is-stale") === true;
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes(1)]);
    model.set("layer", "conv2");
    model.emitCustom(pending(2, "conv2"));
    model.emitCustom(resultMessage(2, "conv2"), [pngBytes(2)]);
    model.set("layer", "conv2");
    model.set("layer", "conv1");
    expect(p.dataset).toMatchObject({ layer: "conv1", state: "ready" });
    const src = p.querySelector("img")?.getAttribute("src");
    model.emitCustom(pending(3, "conv1"));
    // The kernel has not answered yet (data-state says so), but nothing on screen will change.
    expect(p.dataset).toMatchObject({ layer: "conv1", state: "loading" });
    expect(p.querySelector("img")?.getAttribute("src")).toBe(src);
    expect(overlay()).toBe(false);
    expect(dimmed()).toBe(false);
    expect(p.querySelector(".cnnviz-view")?.hasAttribute("inert")).toBe(false);
    model.emitCustom(resultMessage(3, "conv1"), [pngBytes(3)]);
    expect(p.dataset.state).toBe("ready");
    expect(overlay()).toBe(false);
  });

  it("still covers a kept picture made with other options", async () => {
    const model = new FakeModel({
      layers: LAYERS,
      layer: "conv1",
      view: "weights",
      views: ["activations", "weights"],
    });
    const { root } = await mountOne(model);
    const p = panel(root);
    model.emitCustom(weights(1, -1), [pngBytes(1)]);
    expect(p.dataset.state).toBe("ready");
    // A filter is opened: the kernel recomputes with channel 3; the grid on screen is for -1.
    model.set("channel", 3);
    model.emitCustom({ ...pending(2, "conv1"), view: "weights" });
    expect(p.dataset.state).toBe("loading");
    expect(p.querySelector("[data-role=loading]")?.hasAttribute("hidden")).toBe(false);
    expect(p.querySelector(".cnnviz-figure")?.classList.contains("is-stale")).toBe(true);
    // Back to what the picture was made with: nothing left to wait for on screen.
    model.set("channel", -1);
    expect(p.querySelector("[data-role=loading]")?.hasAttribute("hidden")).toBe(true);
  });

  it("covers a picture made with other options before any pending arrives", async () => {
    // The kernel sends "pending" only for answers that take a while: until the new picture
    // comes, the one on screen (made for channel -1) must not pass for the answer.
    const model = new FakeModel({
      layers: LAYERS,
      layer: "conv1",
      view: "weights",
      views: ["activations", "weights"],
    });
    const { root } = await mountOne(model);
    const p = panel(root);
    model.emitCustom(weights(1, -1), [pngBytes(1)]);
    expect(p.dataset.state).toBe("ready");
    model.set("channel", 3);
    expect(p.dataset.state).toBe("loading");
    expect(p.querySelector(".cnnviz-figure")?.classList.contains("is-stale")).toBe(true);
    model.emitCustom(weights(2, 3), [pngBytes(2)]);
    expect(p.dataset.state).toBe("ready");
    expect(p.querySelector(".cnnviz-figure")?.classList.contains("is-stale")).toBe(false);
  });

  it("leaves a picture still being improved uncovered, and covers it once it is old", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const { root } = await mountOne(model);
    const p = panel(root);
    const overlay = (): boolean => !p.querySelector("[data-role=loading]")?.hasAttribute("hidden");
    const dimmed = (): boolean =>
      p.querySelector(".cnnviz-figure")?.classList.contains("is-stale") === true;
    model.emitCustom(pending(1, "conv1"));
    expect(overlay()).toBe(true);
    // This request's first picture, more to come: the view says so; no overlay on top.
    model.emitCustom(resultMessage(1, "conv1", { final: false }), [pngBytes(1)]);
    expect(p.dataset.state).toBe("loading");
    expect(overlay()).toBe(false);
    expect(dimmed()).toBe(false);
    // A newer request for the same selection: what is on screen is now an old, unfinished
    // picture, dimmed and covered until the new one comes.
    model.emitCustom(pending(2, "conv1"));
    expect(overlay()).toBe(true);
    expect(dimmed()).toBe(true);
    model.emitCustom(resultMessage(2, "conv1"), [pngBytes(2)]);
    expect(p.dataset.state).toBe("ready");
    expect(overlay()).toBe(false);
  });

  it("revokes its object URLs when an image is replaced and on cleanup", async () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const model = new FakeModel({ layers: LAYERS, layer: "conv1" });
    const view = await mountOne(model);
    // A small PNG is shown from a data: URL, which holds nothing to revoke.
    model.emitCustom(resultMessage(1, "conv1"), [pngBytes(1)]);
    const small = panel(view.root).querySelector("img")?.getAttribute("src");
    expect(small).toMatch(/^data:image\/png;base64,iVBORw0KGgoB/);
    model.emitCustom(pending(2, "conv1"));
    model.emitCustom(resultMessage(2, "conv1"), [bigPngBytes(1)]);
    expect(revoke).not.toHaveBeenCalled();
    const first = panel(view.root).querySelector("img")?.getAttribute("src");
    expect(first).toMatch(/^blob:/);
    model.emitCustom(pending(3, "conv1"));
    model.emitCustom(resultMessage(3, "conv1"), [bigPngBytes(2)]);
    expect(revoke).toHaveBeenCalledWith(first);
    const second = panel(view.root).querySelector("img")?.getAttribute("src");
    view.cleanup();
    expect(revoke).toHaveBeenCalledWith(second);
  });
});
