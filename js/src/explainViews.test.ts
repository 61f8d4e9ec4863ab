import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  bigPngBytes,
  explainMessage,
  FakeModel,
  faithfulnessData,
  layer,
  mountOne,
} from "./fakeModel";
import {
  beatsRandom,
  classOptions,
  completenessText,
  faithfulnessReadout,
  GradcamView,
  twoDigits,
} from "./explainViews";
import { selectionKey } from "./protocol";
import { ResultStore } from "./state";
import { curvePath } from "./trustPlot";
import { TRUST_STRINGS } from "./trustStrings";
import type { ViewContext, ViewTraits } from "./viewCommon";
import { readExplainData, readFaithfulness } from "./viewData";

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
    expect(base.src).toMatch(/^(blob|data):/);
    expect(heat.src).toMatch(/^(blob|data):/);
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
    expect(map.src).toMatch(/^(blob|data):/);
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
  it("shows image and map side by side and sets saliency_method from the selector", async () => {
    const { model, panel } = await open("saliency");
    const { msg, buffers } = explainMessage(1, "conv2", "saliency");
    model.emitCustom(msg, buffers);
    expect(panel.dataset).toMatchObject({ view: "saliency", state: "ready" });
    const figures = [...panel.querySelectorAll(".cnnviz-explain-figure")];
    expect(figures.map((f) => f.querySelector("img")?.dataset.role)).toEqual(["image", "heatmap"]);
    // The caption says which method drew the map (the result's own data.method).
    expect(figures.map((f) => f.querySelector("figcaption")?.textContent)).toEqual([
      "Image",
      "Saliency map · Gradients",
    ]);
    const select = q<HTMLSelectElement>(panel, "select[data-role=saliency-method]");
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["gradients", "Gradients"],
      ["smoothgrad", "SmoothGrad"],
      ["integrated", "Integrated gradients"],
    ]);
    expect(select.value).toBe("gradients");
    expect(panel.querySelector("[data-role=smoothgrad]")).toBeNull();
    change(select, "integrated");
    expect(model.get("saliency_method")).toBe("integrated");
    expect(model.saved.at(-1)?.saliency_method).toBe("integrated");
    change(select, "smoothgrad");
    expect(model.get("saliency_method")).toBe("smoothgrad");
    // Not integrated gradients: no completeness line.
    expect(q(panel, "[data-role=completeness]").hidden).toBe(true);
    expect(panel.querySelectorAll("[data-role=prediction]")).toHaveLength(3);
    expect(panel.querySelector("select[data-role=class-picker]")).not.toBeNull();
  });

  it("shows the completeness of the kernel's integrated gradients in one line", async () => {
    const { model, panel } = await open("saliency", {
      layers: [layer("conv2d_1")],
      layer: "conv2d_1",
      saliency_method: "integrated",
    });
    const message = messages.saliency_integrated as Raw;
    model.emitCustom(wire(message), buffersOf(message));
    expect(panel.dataset.state).toBe("ready");
    const line = q(panel, "[data-role=completeness]");
    expect(line.hidden).toBe(false);
    // sum 18.1733, gap -0.010382: the gap is 0.0104 / (18.1733 + 0.0104) = 0.057% of the rise.
    expect(line.textContent).toBe(
      "attributions sum to 18.17 (completeness gap -0.010, 0.057% of the score change)",
    );
    expect(Number(line.dataset.gap)).toBeCloseTo(-0.010381752493486829, 12);
    expect(line.title).toContain("score(image) − score(black image)");
    // Under the map it describes.
    expect(line.closest(".cnnviz-explain-figure")?.querySelector("img")?.dataset.role).toBe(
      "heatmap",
    );
    expect(panel.querySelectorAll(".cnnviz-explain-figure figcaption")[1]?.textContent).toBe(
      "Saliency map · Integrated gradients",
    );
    expect(q<HTMLSelectElement>(panel, "[data-role=saliency-method]").value).toBe("integrated");
    // The plain-gradients fixture, for the same sample: the line goes away.
    model.set("saliency_method", "gradients");
    const plain = messages.saliency as Raw;
    model.emitCustom({ ...wire(plain), id: 12 }, buffersOf(plain));
    expect(panel.dataset.state).toBe("ready");
    expect(q(panel, "[data-role=completeness]").hidden).toBe(true);
  });

  it("speaks Korean", async () => {
    const { model, panel } = await open("saliency", { lang: "ko" });
    const { msg, buffers } = explainMessage(1, "conv2", "saliency", { method: "integrated" });
    model.emitCustom(msg, buffers);
    expect(q(panel, "[data-role=predictions]").textContent).toContain("상위 5개 예측");
    expect(panel.textContent).toContain("현저성 맵 · 통합 기울기");
    expect(q<HTMLSelectElement>(panel, "[data-role=class-picker]").options[0]?.textContent).toBe(
      "최상위 예측",
    );
    expect(q(panel, ".cnnviz-control-label").textContent).toBe("방법");
    expect(
      [...q<HTMLSelectElement>(panel, "[data-role=saliency-method]").options].map(
        (o) => o.textContent,
      ),
    ).toEqual(["기울기", "SmoothGrad", "통합 기울기"]);
    // sum 2.5, gap -0.01: 0.01 / 2.51 = 0.398...%
    expect(q(panel, "[data-role=completeness]").textContent).toBe(
      "기여도 합계 2.5 (완전성 오차 -0.010, 점수 변화의 0.4%)",
    );
  });
});

// ------------------------------------------------- how far to trust a heatmap
type Raw = Record<string, unknown>;
const fixture = JSON.parse(
  // Real kernel messages, written by tests/test_protocol.py (vitest runs at the root).
  readFileSync(resolve(process.cwd(), "js/src/fixtures/protocol.json"), "utf-8"),
) as { messages: Record<string, Raw> };
const { messages } = fixture;

function buffersOf(message: Raw): DataView[] {
  const encoded = (message["$buffers"] as string[] | undefined) ?? [];
  return encoded.map((text) => new DataView(Uint8Array.from(Buffer.from(text, "base64")).buffer));
}

function wire(message: Raw): Raw {
  const { $buffers: _, ...rest } = message;
  return rest;
}

interface FixtureCurve {
  auc: number;
  scores: number[];
}
interface FixtureReadout {
  fractions: number[];
  deletion: { map: FixtureCurve; random: FixtureCurve };
  insertion: { map: FixtureCurve; random: FixtureCurve };
}

/** The fixtures' selection: the digits CNN's conv2d_1, channel 2, sanity check on. */
async function openFixture(extra: Record<string, unknown> = {}) {
  return open("gradcam", {
    layers: [layer("conv2d"), layer("conv2d_1")],
    layer: "conv2d_1",
    channel: 2,
    sanity: true,
    ...extra,
  });
}

/** Curve point as the plot draws it, written out: x over 34..292, y over 120..8. */
function point(fraction: number, score: number): string {
  const r = (v: number): number => Math.round(v * 100) / 100;
  return `${r(34 + fraction * 258)},${r(8 + (1 - score) * 112)}`;
}

describe("Grad-CAM: faithfulness read-out and sanity check", () => {
  it("draws the heatmap from the first message and the read-out from the final one", async () => {
    const { model, panel } = await openFixture();
    const first = messages.gradcam_progress as Raw;
    expect(first.final).toBe(false);
    model.emitCustom(wire(first), buffersOf(first));
    // The heatmap is on screen, over the image, while the numbers are measured.
    const heat = q<HTMLImageElement>(panel, "[data-role=overlay] img[data-role=heatmap]");
    const base = q<HTMLImageElement>(panel, "[data-role=overlay] img[data-role=image]");
    const heatSrc = heat.src;
    expect(heatSrc).toMatch(/^(blob|data):/);
    expect(panel.querySelectorAll("[data-role=prediction]")).toHaveLength(5);
    expect(panel.querySelectorAll("[data-role=channel-strip] [data-channel]")).toHaveLength(64);
    expect(panel.querySelector("[data-role=faithfulness]")).toBeNull();
    const pending = q(panel, "[data-role=faithfulness-pending]");
    expect(pending.textContent).toBe("Measuring faithfulness…");
    expect(pending.getAttribute("role")).toBe("status");
    // The untrained copy was asked for: its place is kept, with a line of its own.
    const twin = q(panel, ".cnnviz-sanity-figure");
    expect(twin.hidden).toBe(false);
    expect(twin.querySelector("img")).toBeNull();
    expect(q(twin, "[data-role=sanity-pending]").textContent).toBe("Computing the untrained copy…");

    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const final = messages.gradcam as Raw;
    model.emitCustom(wire(final), buffersOf(final));
    expect(panel.dataset.state).toBe("ready");
    // Same bytes: the same <img> elements and URLs, nothing on screen is reloaded.
    expect(q(panel, "[data-role=overlay] img[data-role=heatmap]")).toBe(heat);
    expect(q(panel, "[data-role=overlay] img[data-role=image]")).toBe(base);
    expect(heat.src).toBe(heatSrc);
    expect(revoke).not.toHaveBeenCalledWith(heatSrc);
    expect(panel.querySelector("[data-role=faithfulness-pending]")).toBeNull();

    const readout = q(panel, "[data-role=faithfulness]");
    const cell = (metric: string, series: string): HTMLElement =>
      q(readout, `tr[data-metric=${metric}] td[data-series=${series}]`);
    // The fixture's AUCs, two decimals (when it was written: deletion 0.26 for the map
    // against 0.64 for the random map, insertion 0.84 against 0.55).
    const numbers = (final.data as Raw).faithfulness as FixtureReadout;
    for (const metric of ["deletion", "insertion"] as const) {
      for (const series of ["map", "random"] as const) {
        const auc = numbers[metric][series].auc;
        expect(cell(metric, series).textContent).toBe(auc.toFixed(2));
        expect(Number(cell(metric, series).dataset.value)).toBe(auc);
      }
    }
    expect(q(readout, "tr[data-metric=deletion] th").textContent).toBe(
      "Deletion (lower is better)",
    );
    expect(q(readout, "tr[data-metric=insertion] th").textContent).toBe(
      "Insertion (higher is better)",
    );
    expect(
      [...readout.querySelectorAll<HTMLElement>(".cnnviz-trust-verdict")].map((v) => [
        v.dataset.verdict,
        v.textContent,
      ]),
    ).toEqual([
      numbers.deletion.map.auc < numbers.deletion.random.auc
        ? ["better", "better than random"]
        : ["worse", "no better than random"],
      numbers.insertion.map.auc > numbers.insertion.random.auc
        ? ["better", "better than random"]
        : ["worse", "no better than random"],
    ]);
    expect(q(readout, ".cnnviz-subheading").textContent).toBe(
      "Faithfulness of this map (20 steps)",
    );
    expect(q(readout, ".cnnviz-subheading").title).toContain("5% more at each step");
    expect(q(readout, ".cnnviz-subheading").title).toContain("class 0");

    // The plot: four curves, the map's solid and the random map's dashed (a class of its own).
    const paths = [...readout.querySelectorAll<SVGPathElement>("svg path[data-series]")];
    expect(paths.map((p) => [p.dataset.series, p.getAttribute("class")])).toEqual([
      ["deletion-map", "cnnviz-trust-curve is-deletion is-map"],
      ["deletion-random", "cnnviz-trust-curve is-deletion is-random"],
      ["insertion-map", "cnnviz-trust-curve is-insertion is-map"],
      ["insertion-random", "cnnviz-trust-curve is-insertion is-random"],
    ]);
    const data = numbers;
    const expected = (scores: number[]): string =>
      scores.map((s, i) => `${i === 0 ? "M" : "L"}${point(data.fractions[i] ?? 0, s)}`).join(" ");
    expect(paths[0]?.getAttribute("d")).toBe(expected(data.deletion.map.scores));
    expect(paths[3]?.getAttribute("d")).toBe(expected(data.insertion.random.scores));
    // Deletion of the map starts at the unperturbed image's probability (1.0: top left).
    expect(data.deletion.map.scores[0]).toBeGreaterThan(0.9999);
    expect(paths[0]?.getAttribute("d")?.startsWith("M34,8 ")).toBe(true);
    expect(paths[0]?.getAttribute("d")).toMatch(/ L292,[\d.]+$/);
    const legend = [...readout.querySelectorAll<HTMLElement>(".cnnviz-trust-legend li")];
    expect(legend.map((li) => [li.dataset.series, li.textContent])).toEqual([
      ["deletion-map", "deletion, this map"],
      ["deletion-random", "deletion, random map"],
      ["insertion-map", "insertion, this map"],
      ["insertion-random", "insertion, random map"],
    ]);
    expect(readout.querySelector("svg title")?.textContent).toContain("class 0");

    // The untrained copy's heatmap beside the trained one, over the same image.
    const sanity = q<HTMLImageElement>(panel, "img[data-role=sanity]");
    expect(sanity.src).toMatch(/^(blob|data):/);
    expect(sanity.src).not.toBe(heatSrc);
    expect(sanity.closest(".cnnviz-sanity-figure")).toBe(twin);
    expect(twin.querySelector("img[data-role=image]")?.getAttribute("src")).toMatch(
      /^(blob|data):/,
    );
    expect(q(twin, "figcaption").textContent).toBe("Untrained copy");
    const correlation = q(twin, "[data-role=sanity-correlation]");
    // The untrained copy's weights are random, so the fixture's correlation varies (0.13 once).
    const r = ((final.data as Raw).sanity as { rank_correlation: number }).rank_correlation;
    expect(correlation.textContent).toBe(
      `rank correlation with the trained map: ${r.toFixed(2)} (near 1 means the map barely depends on what the model learned)`,
    );
    expect(Number(correlation.dataset.value)).toBe(r);
    // Both heatmaps follow the opacity slider.
    change(q<HTMLInputElement>(panel, "[data-role=opacity]"), "0.7", "input");
    expect(heat.style.opacity).toBe("0.7");
    expect(sanity.style.opacity).toBe("0.7");
    // The linked feature map came too (channel 2).
    expect(panel.querySelector("[data-role=linked] img[data-role=feature-map]")).not.toBeNull();
  });

  it("sets sanity from its switch, and draws no untrained copy when it was not asked for", async () => {
    const { model, panel } = await open("gradcam");
    const toggle = q<HTMLInputElement>(panel, "input[type=checkbox][data-role=sanity-toggle]");
    expect(toggle.checked).toBe(false);
    expect(toggle.closest("label")?.textContent).toBe(
      "Sanity check: same map on the untrained copy",
    );
    const first = explainMessage(1, "conv2", "gradcam", { final: false });
    model.emitCustom(first.msg, first.buffers);
    expect(panel.dataset.state).toBe("loading");
    expect(q(panel, ".cnnviz-sanity-figure").hidden).toBe(true);
    expect(q(panel, "[data-role=faithfulness-pending]").hidden).toBe(false);
    const done = explainMessage(1, "conv2", "gradcam");
    model.emitCustom(done.msg, done.buffers);
    expect(q(panel, ".cnnviz-sanity-figure").hidden).toBe(true);
    expect(panel.querySelector("img[data-role=sanity]")).toBeNull();
    expect(panel.querySelector("[data-role=faithfulness]")).not.toBeNull();

    toggle.checked = true;
    toggle.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("sanity")).toBe(true);
    expect(model.saved.at(-1)?.sanity).toBe(true);
    // A correlation that rounds to zero reads 0.00, without a sign.
    const twin = explainMessage(2, "conv2", "gradcam", { sanity: -0.001 });
    model.emitCustom(twin.msg, twin.buffers);
    expect(q(panel, ".cnnviz-sanity-figure").hidden).toBe(false);
    expect(q(panel, "[data-role=sanity-correlation]").textContent).toContain(": 0.00 (");
    toggle.checked = false;
    toggle.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("sanity")).toBe(false);
  });

  it("says when a map does no better than the random map, and shows missing numbers as —", () => {
    const raw = faithfulnessData({ classIndex: 3 }) as Raw & {
      deletion: { map: Raw; random: Raw };
      insertion: { map: Raw; random: Raw };
    };
    raw.deletion.map.auc = 0.7; // random's is 0.5: deleting the map's pixels is slower
    raw.insertion.random.auc = "0.4"; // not a number
    const readout = readFaithfulness(raw);
    if (!readout) throw new Error("read-out not read");
    const el = faithfulnessReadout(readout, "cat", "en");
    const verdicts = [...el.querySelectorAll<HTMLElement>(".cnnviz-trust-verdict")];
    expect(verdicts.map((v) => [v.dataset.verdict ?? null, v.textContent])).toEqual([
      ["worse", "no better than random"],
      [null, ""],
    ]);
    expect(q(el, "tr[data-metric=insertion] td[data-series=random]").textContent).toBe("—");
    expect(q(el, "tr[data-metric=insertion] td[data-series=random]").dataset.value).toBe(undefined);
    // 4 steps: 25% at each.
    expect(q(el, ".cnnviz-subheading").textContent).toBe("Faithfulness of this map (4 steps)");
    expect(q(el, ".cnnviz-subheading").title).toContain("25% more at each step");
    expect(beatsRandom("deletion", 0.2, 0.5)).toBe(true);
    expect(beatsRandom("insertion", 0.2, 0.5)).toBe(false);
    expect(beatsRandom("insertion", 0.5, 0.5)).toBe(false);
    expect(beatsRandom("deletion", null, 0.5)).toBe(null);
  });

  it("reads the kernel's numbers carefully: odd values leave parts empty, never throw", () => {
    expect(readExplainData({}).faithfulness).toBeNull();
    expect(readExplainData({ faithfulness: null, sanity: null }).sanity).toBeNull();
    expect(readExplainData({ faithfulness: [1, 2] }).faithfulness).toBeNull();
    expect(readExplainData({ faithfulness: { deletion: "x" } }).faithfulness).toBeNull();
    const partial = readFaithfulness({
      steps: 2.5,
      seed: "0",
      class_index: -1,
      fractions: [0, "0.5", 1],
      deletion: { map: { auc: Number.NaN, scores: [1, null, 0] } },
      insertion: { random: { auc: 0.4, scores: "none" } },
    });
    expect(partial).toEqual({
      classIndex: null,
      steps: null,
      seed: null,
      fractions: [0, null, 1],
      deletion: { map: { auc: null, scores: [1, null, 0] }, random: null },
      insertion: { map: null, random: { auc: 0.4, scores: [] } },
    });
    expect(readExplainData({ sanity: { rank_correlation: 0.5 } }).sanity).toEqual({
      rankCorrelation: 0.5,
    });
    // Not a correlation, or none (a constant map): shown as —, not as a number.
    expect(readExplainData({ sanity: { rank_correlation: 3 } }).sanity).toEqual({
      rankCorrelation: null,
    });
    expect(readExplainData({ sanity: { rank_correlation: null } }).sanity).toEqual({
      rankCorrelation: null,
    });
    expect(readExplainData({ completeness: { sum: "1", gap: null } }).completeness).toBeNull();
    expect(readExplainData({ completeness: { sum: 2, gap: Infinity } }).completeness).toEqual({
      sum: 2,
      gap: null,
    });
    expect(readExplainData({ method: 7 }).method).toBe("");
    // The real messages.
    const final = readExplainData((messages.gradcam as Raw).data as Raw);
    expect(final.faithfulness?.steps).toBe(20);
    expect(final.faithfulness?.fractions).toHaveLength(21);
    expect(final.faithfulness?.deletion.random?.scores).toHaveLength(21);
    const r = ((messages.gradcam as Raw).data as Raw).sanity as Raw;
    expect(final.sanity?.rankCorrelation).toBe(r.rank_correlation);
    expect(readExplainData((messages.gradcam_progress as Raw).data as Raw).faithfulness).toBeNull();
    const ig = readExplainData((messages.saliency_integrated as Raw).data as Raw);
    expect(ig.method).toBe("integrated");
    expect(ig.completeness?.sum).toBe(18.173294067382812);
  });

  it("breaks a curve where a value is missing instead of joining across", () => {
    expect(curvePath([0, 0.5, 1], [1, 0.5, 0])).toBe(
      `M${point(0, 1)} L${point(0.5, 0.5)} L${point(1, 0)}`,
    );
    expect(curvePath([0, 0.25, 0.5, 0.75, 1], [1, null, 0.5, 0.25, 0])).toBe(
      `M${point(0, 1)} M${point(0.5, 0.5)} L${point(0.75, 0.25)} L${point(1, 0)}`,
    );
    // Scores outside [0, 1] stay inside the box; more scores than fractions are left out.
    expect(curvePath([0, 1], [1.5, -0.5, 0.3])).toBe(`M${point(0, 1)} L${point(1, 0)}`);
    expect(curvePath([], [1])).toBe("");
  });

  it("formats the completeness line, also for tiny and zero changes", () => {
    expect(completenessText("en", { sum: 18.173294067382812, gap: -0.010381752493486829 })).toBe(
      "attributions sum to 18.17 (completeness gap -0.010, 0.057% of the score change)",
    );
    // The whole score change is the gap: 100%.
    expect(completenessText("en", { sum: 0.5, gap: 0.25 })).toBe(
      "attributions sum to 0.5 (completeness gap 0.25, 100% of the score change)",
    );
    expect(completenessText("en", { sum: 3, gap: 1e-7 })).toBe(
      "attributions sum to 3 (completeness gap 1.0e-7, <0.01% of the score change)",
    );
    expect(completenessText("en", { sum: 0, gap: 0 })).toBe(
      "attributions sum to 0 (completeness gap 0)",
    );
    expect(completenessText("en", { sum: null, gap: 0.1 })).toBe(
      "attributions sum to — (completeness gap 0.10)",
    );
    expect(twoDigits(-0.010381752493486829)).toBe("-0.010");
    expect(twoDigits(123456)).toBe("1.2e+5");
  });

  it("speaks Korean", async () => {
    const { model, panel } = await openFixture({ lang: "ko" });
    const final = messages.gradcam as Raw;
    model.emitCustom(wire(final), buffersOf(final));
    const readout = q(panel, "[data-role=faithfulness]");
    expect(q(readout, ".cnnviz-subheading").textContent).toBe("이 맵의 충실도 (20단계)");
    expect(q(readout, "tr[data-metric=deletion] th").textContent).toBe("삭제 (낮을수록 좋음)");
    expect(readout.querySelector(".cnnviz-trust-verdict")?.textContent).toBe("무작위보다 나음");
    const r = ((final.data as Raw).sanity as { rank_correlation: number }).rank_correlation;
    expect(q(panel, "[data-role=sanity-correlation]").textContent).toBe(
      `학습된 맵과의 순위 상관: ${r.toFixed(2)} (1에 가까우면 맵이 모델이 학습한 것에 거의 의존하지 않음)`,
    );
    expect(q(panel, "[data-role=sanity-toggle]").closest("label")?.textContent).toBe(
      "타당성 검사: 학습되지 않은 복사본에서 같은 맵",
    );
  });

  it("has every string in Korean, with the same placeholders", () => {
    const holes = (text: string): string[] =>
      [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "");
    for (const [key, english] of Object.entries(TRUST_STRINGS.en)) {
      const korean = TRUST_STRINGS.ko[key as keyof typeof TRUST_STRINGS.en];
      expect(korean, key).toBeTruthy();
      expect(holes(korean).sort(), key).toEqual(holes(english).sort());
    }
  });

  it("puts the untrained copy beside the heatmap when both fit, else below", () => {
    const store = new ResultStore();
    const { msg, buffers } = explainMessage(1, "conv2", "gradcam", { sanity: 0.2 });
    // Pictures too big for data: URLs, so that their object URLs are seen revoked.
    store.receive(
      msg,
      buffers.map((_, i) => bigPngBytes(i)),
    );
    const stored = store.get(selectionKey("conv2", "gradcam", 0))?.result;
    if (!stored) throw new Error("no result stored");
    const view = new GradcamView(new AbortController().signal);
    view.update(stored, context({ sanity: true }));
    const heat = q<HTMLImageElement>(view.content, "[data-role=overlay] img[data-role=heatmap]");
    const twin = q<HTMLImageElement>(view.content, "img[data-role=sanity]");
    // 700 px: two 320 px boxes fit side by side; the 28 px heatmap is drawn 11x (308 px).
    view.fit(700);
    expect([heat.style.width, twin.style.width]).toEqual(["308px", "308px"]);
    // 400 px: two boxes of 192 px still fit (6x, 168 px each).
    view.fit(400);
    expect([heat.style.width, twin.style.width]).toEqual(["168px", "168px"]);
    // 340 px: two would be 162 px, too small: one to a row, each in 320 px (11x).
    view.fit(340);
    expect([heat.style.width, twin.style.width]).toEqual(["308px", "308px"]);
    const revoke = vi.spyOn(URL, "revokeObjectURL");
    const urls = [heat.src, twin.src];
    view.destroy();
    for (const url of urls) expect(revoke).toHaveBeenCalledWith(url);
  });
});

function context(traits: Partial<ViewTraits> = {}): ViewContext {
  return {
    lang: "en",
    layer: "conv2",
    traits: {
      class_names: [],
      class_index: -1,
      cam_method: "gradcam",
      saliency_method: "gradients",
      sanity: false,
      in_channel: 0,
      rgb: false,
      channel: -1,
      filter_count: 16,
      ...traits,
    },
    prefs: { opacity: 0.5 },
    set: () => undefined,
  };
}
