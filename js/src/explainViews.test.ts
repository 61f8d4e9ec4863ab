import { afterEach, describe, expect, it, vi } from "vitest";
import { explainMessage, FakeModel, layer, mountOne } from "./fakeModel";
import { classOptions } from "./explainViews";

const LAYERS = [layer("conv1"), layer("conv2")];
const VIEWS = ["activations", "weights", "gradcam", "saliency"];

function q<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`nothing matches ${selector}`);
  return found;
}

async function open(view: "gradcam" | "saliency", extra: Record<string, unknown> = {}) {
  const model = new FakeModel({ layers: LAYERS, layer: "conv2", view, views: VIEWS, ...extra });
  const mounted = await mountOne(model);
  const panel = q(mounted.root, "[data-panel]");
  return { model, panel, ...mounted };
}

function change(el: HTMLInputElement | HTMLSelectElement, value: string, event = "change"): void {
  el.value = value;
  el.dispatchEvent(new Event(event, { bubbles: true }));
}

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("Grad-CAM tab", () => {
  it("stacks the heatmap on the image, with opacity from the slider", async () => {
    const { model, panel } = await open("gradcam");
    const { msg, buffers } = explainMessage(1, "conv2", "gradcam");
    model.emitCustom(msg, buffers);
    expect(panel.dataset).toMatchObject({ view: "gradcam", state: "ready" });
    const overlay = q(panel, "[data-role=overlay]");
    const base = q<HTMLImageElement>(overlay, "img[data-role=image]");
    const heat = q<HTMLImageElement>(overlay, "img[data-role=heatmap]");
    expect(base.src).toMatch(/^blob:/);
    expect(heat.src).toMatch(/^blob:/);
    expect(heat.src).not.toBe(base.src);
    expect(heat.style.opacity).toBe("0.5");

    const slider = q<HTMLInputElement>(panel, "[data-role=opacity]");
    expect(slider.type).toBe("range");
    expect(slider.value).toBe("0.5");
    change(slider, "0.8", "input");
    expect(heat.style.opacity).toBe("0.8");
    // Purely client-side: the kernel hears nothing.
    expect(model.saved).toHaveLength(0);
    // A new result keeps the chosen opacity.
    const next = explainMessage(2, "conv2", "gradcam", { method: "layercam" });
    model.emitCustom(next.msg, next.buffers);
    expect(q<HTMLImageElement>(panel, "img[data-role=heatmap]").style.opacity).toBe("0.8");
  });

  it("sets cam_method from the method selector", async () => {
    const { model, panel } = await open("gradcam");
    const select = q<HTMLSelectElement>(panel, "[data-role=cam-method]");
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["gradcam", "Grad-CAM"],
      ["gradcam++", "Grad-CAM++"],
      ["layercam", "LayerCAM"],
      ["scorecam", "Score-CAM"],
    ]);
    expect(select.value).toBe("gradcam");
    change(select, "scorecam");
    expect(model.get("cam_method")).toBe("scorecam");
    expect(model.saved).toHaveLength(1);
    expect(model.saved[0]?.cam_method).toBe("scorecam");
  });

  it("sets class_index from the class picker, by name, with the top prediction first", async () => {
    const names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    const { model, panel } = await open("gradcam", { class_names: names });
    const picker = q<HTMLSelectElement>(panel, "select[data-role=class-picker]");
    const options = [...picker.options];
    expect(options).toHaveLength(11);
    expect([options[0]?.value, options[0]?.textContent]).toEqual(["-1", "Top prediction"]);
    expect([options[4]?.value, options[4]?.textContent]).toEqual(["3", "cat (3)"]);
    expect(picker.value).toBe("-1");
    change(picker, "5");
    expect(model.get("class_index")).toBe(5);
    expect(model.saved.at(-1)?.class_index).toBe(5);
    expect(picker.value).toBe("5");
    change(picker, "-1");
    expect(model.get("class_index")).toBe(-1);
  });

  it("lists classes by index when there are no names, up to n_classes", () => {
    const options = classOptions("en", [], 4, -1);
    expect(options).toEqual([
      ["-1", "Top prediction"],
      ["0", "0"],
      ["1", "1"],
      ["2", "2"],
      ["3", "3"],
    ]);
    expect(classOptions("ko", [], 2, -1)[0]).toEqual(["-1", "최상위 예측"]);
  });

  it("lists the predictions as text, and explains a clicked one", async () => {
    const { model, panel } = await open("gradcam");
    const predictions = [
      { index: 3, name: "<b>x</b>", probability: 0.801 },
      { index: 5, name: "dog", probability: 0.19 },
      { index: 1, name: "car", probability: 0.0004 },
    ];
    const { msg, buffers } = explainMessage(1, "conv2", "gradcam", { predictions });
    model.emitCustom(msg, buffers);
    const rows = [...panel.querySelectorAll<HTMLElement>("[data-role=prediction]")];
    expect(rows.map((r) => r.querySelector("[data-role=class-name]")?.textContent)).toEqual([
      "<b>x</b>",
      "dog",
      "car",
    ]);
    expect(panel.querySelector("[data-role=predictions] b")).toBeNull();
    expect(rows.map((r) => r.querySelector(".cnnviz-prediction-prob")?.textContent)).toEqual([
      "80.1%",
      "19.0%",
      "<0.1%",
    ]);
    expect(rows.map((r) => r.getAttribute("aria-pressed"))).toEqual(["true", "false", "false"]);
    expect(q(rows[0] as HTMLElement, ".cnnviz-prediction-fill").style.width).toBe("80.1%");
    rows[1]?.click();
    expect(model.get("class_index")).toBe(5);
    expect(model.saved.at(-1)?.class_index).toBe(5);
  });

  it("ranks channel weights as bars and opens a channel's feature map", async () => {
    const { model, panel } = await open("gradcam");
    const first = explainMessage(1, "conv2", "gradcam");
    model.emitCustom(first.msg, first.buffers);
    const bars = [
      ...panel.querySelectorAll<HTMLElement>("[data-role=channel-strip] [data-channel]"),
    ];
    expect(bars.map((b) => b.dataset.channel)).toEqual(["7", "2", "0"]);
    expect(bars.map((b) => b.title)).toEqual([
      "channel 7: 0.5",
      "channel 2: 0.25",
      "channel 0: -0.1",
    ]);
    expect(bars[2]?.classList.contains("is-negative")).toBe(true);
    expect(q(panel, "[data-role=channel-strip]").textContent).toContain("top 3 of 16");
    bars[1]?.click();
    expect(model.get("channel")).toBe(2);
    expect(model.saved.at(-1)?.channel).toBe(2);
    expect(bars[1]?.getAttribute("aria-pressed")).toBe("true");
    const linked = q(panel, "[data-role=linked]");
    expect(linked.hidden).toBe(false);
    expect(linked.textContent).toContain("Computing…");

    const second = explainMessage(2, "conv2", "gradcam", { channel: 2 });
    model.emitCustom(second.msg, second.buffers);
    const map = q<HTMLImageElement>(panel, "[data-role=linked] img[data-role=feature-map]");
    expect(map.src).toMatch(/^blob:/);
    expect(q(panel, "[data-role=linked]").textContent).toContain("Feature map · channel 2");
    q(panel, "[data-role=close-linked]").click();
    expect(model.get("channel")).toBe(-1);
    expect(q(panel, "[data-role=linked]").hidden).toBe(true);
  });

  it("keeps the controls usable when the kernel answers with an error", async () => {
    const { model, panel } = await open("gradcam");
    model.emitCustom({
      type: "error",
      id: 1,
      layer: "conv2",
      view: "gradcam",
      sample: 0,
      message: "Score-CAM failed",
    });
    expect(panel.dataset.state).toBe("error");
    const select = q<HTMLSelectElement>(panel, "[data-role=cam-method]");
    expect(select.closest("[hidden]")).toBeNull();
    change(select, "gradcam++");
    expect(model.get("cam_method")).toBe("gradcam++");
  });
});

describe("Saliency tab", () => {
  it("shows image and map side by side and toggles SmoothGrad", async () => {
    const { model, panel } = await open("saliency");
    const { msg, buffers } = explainMessage(1, "conv2", "saliency");
    model.emitCustom(msg, buffers);
    expect(panel.dataset).toMatchObject({ view: "saliency", state: "ready" });
    const figures = [...panel.querySelectorAll(".cnnviz-explain-figure")];
    expect(figures.map((f) => f.querySelector("img")?.dataset.role)).toEqual(["image", "heatmap"]);
    expect(figures.map((f) => f.querySelector("figcaption")?.textContent)).toEqual([
      "Image",
      "Saliency map",
    ]);
    const toggle = q<HTMLInputElement>(panel, "[data-role=smoothgrad]");
    expect(toggle.checked).toBe(false);
    toggle.checked = true;
    toggle.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("smooth")).toBe(true);
    expect(model.saved.at(-1)?.smooth).toBe(true);
    expect(panel.querySelectorAll("[data-role=prediction]")).toHaveLength(3);
    expect(panel.querySelector("select[data-role=class-picker]")).not.toBeNull();
  });

  it("speaks Korean", async () => {
    const { model, panel } = await open("saliency", { lang: "ko" });
    const { msg, buffers } = explainMessage(1, "conv2", "saliency");
    model.emitCustom(msg, buffers);
    expect(q(panel, "[data-role=predictions]").textContent).toContain("상위 5개 예측");
    expect(panel.textContent).toContain("현저성 맵");
    expect(q<HTMLSelectElement>(panel, "[data-role=class-picker]").options[0]?.textContent).toBe(
      "최상위 예측",
    );
    expect(q(panel, ".cnnviz-control-label").textContent).toBe("SmoothGrad");
  });
});
