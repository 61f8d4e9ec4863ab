// Test double for an anywidget model (not bundled: only tests import it).
// Like ipywidgets it fires `change:<name>` synchronously inside set(), and like
// anywidget it hands every hook its own proxy object over one shared model.

import type { AnyModel } from "@anywidget/types";
import type { LayerInfo, Traits } from "./protocol";
import { DATA_URL_MAX_BYTES } from "./dom";
import createWidget, { REDRAW_AFTER_MS } from "./widget";

type Callback = (...args: unknown[]) => void;

export class FakeModel {
  readonly state: Record<string, unknown>;
  readonly sent: unknown[] = [];
  /** Trait values at each save_changes() call, i.e. what the kernel would receive. */
  readonly saved: Record<string, unknown>[] = [];
  readonly #listeners = new Map<string, Set<Callback>>();

  constructor(state: Partial<Traits> = {}) {
    this.state = { ...defaultTraits(), ...state };
  }

  get(key: string): unknown {
    return this.state[key];
  }

  set(key: string, value: unknown): void {
    const old = this.state[key];
    this.state[key] = value;
    if (old !== value) this.#emit(`change:${key}`, this, value);
  }

  save_changes(): void {
    this.saved.push({ ...this.state });
  }

  on(name: string, callback: Callback): void {
    const set = this.#listeners.get(name) ?? new Set();
    set.add(callback);
    this.#listeners.set(name, set);
  }

  off(name?: string | null, callback?: Callback | null): void {
    for (const [event, set] of this.#listeners) {
      if (name && event !== name) continue;
      if (callback) set.delete(callback);
      else set.clear();
    }
  }

  send(content: unknown): void {
    this.sent.push(content);
  }

  /** A kernel -> browser custom message, as ipywidgets delivers it. */
  emitCustom(msg: unknown, buffers: unknown[] = []): void {
    this.#emit("msg:custom", msg, buffers);
  }

  listenerCount(name?: string): number {
    let count = 0;
    for (const [event, set] of this.#listeners) if (!name || event === name) count += set.size;
    return count;
  }

  /** A fresh proxy, as anywidget gives initialize and each render. */
  proxy(): AnyModel<Traits> {
    return {
      get: (key) => this.get(key) as never,
      set: (key, value) => this.set(key, value),
      save_changes: () => this.save_changes(),
      send: (content) => this.send(content),
      on: (name: string, callback: Callback) => this.on(name, callback),
      off: (name?: string | null, callback?: Callback | null) => this.off(name, callback),
      widget_manager: { get_model: () => Promise.reject(new Error("not in tests")) },
    } as AnyModel<Traits>;
  }

  #emit(name: string, ...args: unknown[]): void {
    for (const callback of [...(this.#listeners.get(name) ?? [])]) callback(...args);
  }
}

export function defaultTraits(): Traits {
  return {
    layers: [],
    samples: [],
    layer: "",
    view: "activations",
    views: ["activations"],
    sample: 0,
    lang: "en",
    model_name: "",
    class_names: [],
    class_index: -1,
    cam_method: "gradcam",
    saliency_method: "gradients",
    sanity: false,
    in_channel: 0,
    rgb: false,
    channel: -1,
    filter_count: 16,
    snapshot: {},
    graph: {},
  };
}

export function layer(name: string, extra: Partial<LayerInfo> = {}): LayerInfo {
  return {
    name,
    type: "Conv2D",
    output_shape: [null, 26, 26, 32],
    params: 320,
    trainable: true,
    kind: "conv",
    parent: null,
    ...extra,
  };
}

/** Some PNG-looking bytes; nothing decodes them in tests. */
export function pngBytes(seed = 0): DataView {
  const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, seed]);
  return new DataView(bytes.buffer);
}

/** PNG-looking bytes too big for a `data:` URL: shown from an object URL (dom.ts pngUrl). */
export function bigPngBytes(seed = 0): DataView {
  const bytes = new Uint8Array(DATA_URL_MAX_BYTES + 1);
  bytes.set([137, 80, 78, 71, 13, 10, 26, 10, seed]);
  return new DataView(bytes.buffer);
}

export function imageMeta(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "mosaic",
    width: 8 * 26 + 7,
    height: 4 * 26 + 3,
    rows: 4,
    cols: 8,
    tile_width: 26,
    tile_height: 26,
    gap: 1,
    channels: 32,
    true_shape: [26, 26, 32],
    downsample: 1,
    ...extra,
  };
}

export function resultMessage(
  id: number,
  layerName: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  // Tests say `image` for a one-picture result; the kernel sends `images` only.
  const { image, ...rest } = extra;
  return {
    type: "result",
    id,
    layer: layerName,
    view: "activations",
    sample: 0,
    options: {},
    final: true,
    images: [image ?? imageMeta()],
    caption: "32 channels, 26 × 26",
    warnings: [],
    warning_codes: [],
    data: {},
    ...rest,
  };
}

export interface Mounted {
  el: HTMLElement;
  root: HTMLElement;
  cleanup: () => void;
}

/** Runs the widget the way anywidget does: one initialize, then one render per view. */
/**
 * Waits until a clicked choice is drawn: the widget puts the redraw off until the kernel's
 * answer, or REDRAW_AFTER_MS without one (widget.ts `choose`).
 */
export async function redrawn(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, REDRAW_AFTER_MS + 5));
}

export async function mountWidget(model: FakeModel, views = 1): Promise<Mounted[]> {
  const widget = createWidget();
  const signal = new AbortController().signal;
  const experimental = { invoke: () => Promise.reject(new Error("not in tests")) };
  await widget.initialize?.({ model: model.proxy(), signal, experimental } as never);
  const mounted: Mounted[] = [];
  for (let i = 0; i < views; i++) mounted.push(await renderInto(widget, model));
  return mounted;
}

/** One view of a fresh widget. */
export async function mountOne(model: FakeModel): Promise<Mounted> {
  const [view] = await mountWidget(model, 1);
  if (!view) throw new Error("no view rendered");
  return view;
}

export async function renderInto(
  widget: ReturnType<typeof createWidget>,
  model: FakeModel,
): Promise<Mounted> {
  const el = document.createElement("div");
  document.body.append(el);
  const signal = new AbortController().signal;
  const result = await widget.render({ model: model.proxy(), el, signal } as never);
  const root = el.querySelector<HTMLElement>(".cnnviz");
  if (!root) throw new Error("render drew no .cnnviz root");
  return {
    el,
    root,
    cleanup: () => {
      if (typeof result === "function") void result();
      el.remove();
    },
  };
}

/** A colour bar as the kernel sends it (11 colours from vmin to vmax, 5 ticks). */
export function colorbarMeta(vmax = 0.3): Record<string, unknown> {
  const colors = [
    "#053061",
    "#2065ab",
    "#4393c3",
    "#90c4dd",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
  ];
  const ticks = [-vmax, -vmax / 2, 0, vmax / 2, vmax];
  return { colors, vmin: -vmax, vmax, cmap: "RdBu_r", ticks };
}

/** A kernel grid's meta: 32 filters of 3 x 3 at 10 px a weight, 2 x 16, gap 1. */
export function kernelMeta(
  role: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    role,
    kind: "kernels",
    width: 16 * 30 + 15,
    height: 2 * 30 + 1,
    rows: 2,
    cols: 16,
    tile_width: 30,
    tile_height: 30,
    gap: 1,
    channels: 32,
    true_shape: [3, 3, 1, 32],
    downsample: 1,
    tiles: "filters",
    in_channels: 1,
    tile_output_channel: Array.from({ length: 32 }, (_, i) => i),
    vmin: -0.3,
    vmax: 0.3,
    colorbar: colorbarMeta(),
    ...extra,
  };
}

function stats(counts: number[], mean: number, std: number): Record<string, unknown> {
  const count = counts.reduce((a, b) => a + b, 0);
  return { counts, mean, std, min: -0.3, max: 0.3, count, nonfinite: 0 };
}

/** A weights result: trained + baseline grids, and with `filter` the linked view's data. */
export function weightsMessage(
  id: number,
  layerName: string,
  options: { channel?: number; inChannels?: number; rgbAvailable?: boolean; bins?: number } = {},
): { msg: Record<string, unknown>; buffers: DataView[] } {
  const channel = options.channel ?? -1;
  const bins = options.bins ?? 10;
  const inChannels = options.inChannels ?? 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => -0.3 + (0.6 * i) / bins);
  const trainedCounts = Array.from({ length: bins }, (_, i) => (i * 7) % 5);
  const baselineCounts = Array.from({ length: bins }, (_, i) => (i % 3) + 1);
  const images = [
    kernelMeta("trained", { in_channels: inChannels }),
    kernelMeta("baseline", { in_channels: inChannels }),
  ];
  const data: Record<string, unknown> = {
    kernel_shape: [3, 3, inChannels, 32],
    bias_shape: [32],
    depthwise: false,
    rgb_available: options.rgbAvailable ?? false,
    in_channels: inChannels,
    vmax: 0.3,
    histogram: {
      edges,
      bins,
      trained: stats(trainedCounts, 0.031, 0.137),
      baseline: stats(baselineCounts, -0.004, 0.082),
    },
    bias: {
      values: Array.from({ length: 40 }, (_, i) => i / 100),
      count: 40,
      shown: 40,
      truncated: false,
      mean: 0.195,
      std: 0.115,
      min: 0,
      max: 0.39,
    },
    baseline_bias: null,
    colorbar: colorbarMeta(),
  };
  if (channel >= 0) {
    data.filter = {
      kind: "kernel",
      tiles: "filters",
      filter_index: channel,
      output_channel: channel,
      in_channel: 0,
      shape: [3, 3],
      values: [
        [-0.3, 0.0152, -0.0108],
        [-0.123, 0.0109, 0.119],
        [-0.129, 0.133, 0.162],
      ],
      colors: [
        ["#053061", "#f9f0eb", "#f0f4f6"],
        ["#90c4dd", "#f8f2ef", "#f5a886"],
        ["#87beda", "#ef9979", "#df765e"],
      ],
      bias: 0.0704,
      vmin: -0.3,
      vmax: 0.3,
      mean: -0.0142,
      std: 0.142,
      min: -0.3,
      max: 0.162,
      norm: 0.428,
      truncated: false,
    };
    images.push({ ...imageMeta({ rows: 1, cols: 1, width: 26, height: 26 }), role: "feature_map" });
  }
  const msg = resultMessage(id, layerName, {
    view: "weights",
    options: { in_channel: 0, rgb: false, channel },
    images,
    caption: "32 filters · 3 × 3",
    data,
  });
  return { msg, buffers: images.map((_, i) => pngBytes(i)) };
}

export interface PredictionSpec {
  index: number;
  name: string;
  probability: number;
}

/** A faithfulness read-out as the kernel sends it: `steps` steps, hand-picked scores. */
export function faithfulnessData(
  options: { classIndex?: number; steps?: number } = {},
): Record<string, unknown> {
  const steps = options.steps ?? 4;
  const fractions = Array.from({ length: steps + 1 }, (_, i) => i / steps);
  // Map: the probability collapses at once on deletion and recovers at once on insertion;
  // random: a straight line either way.
  const fall = fractions.map((f) => (f === 0 ? 0.9 : 0.1));
  const line = fractions.map((f) => 0.9 - 0.8 * f);
  const rise = fractions.map((f) => (f === 0 ? 0.1 : 0.9));
  const up = fractions.map((f) => 0.1 + 0.8 * f);
  const auc = (scores: number[]): number =>
    scores.slice(1).reduce((a, s, i) => a + ((s + (scores[i] ?? 0)) / 2) * (1 / steps), 0);
  return {
    class_index: options.classIndex ?? 3,
    steps,
    seed: 0,
    fractions,
    deletion: { map: { auc: auc(fall), scores: fall }, random: { auc: auc(line), scores: line } },
    insertion: { map: { auc: auc(rise), scores: rise }, random: { auc: auc(up), scores: up } },
  };
}

/**
 * A Grad-CAM or saliency result: image + heatmap (+ feature map, + the untrained copy's
 * heatmap), predictions. Grad-CAM's `final: false` message has no read-out yet (as the
 * kernel's first message); `sanity` (the rank correlation) turns the sanity check on.
 */
export function explainMessage(
  id: number,
  layerName: string,
  view: "gradcam" | "saliency",
  options: {
    predictions?: PredictionSpec[];
    classIndex?: number;
    channel?: number;
    method?: string;
    final?: boolean;
    faithfulness?: Record<string, unknown> | null;
    sanity?: number | null;
    completeness?: { sum: number | null; gap: number | null } | null;
  } = {},
): { msg: Record<string, unknown>; buffers: DataView[] } {
  const predictions = options.predictions ?? [
    { index: 3, name: "cat", probability: 0.8 },
    { index: 5, name: "dog", probability: 0.15 },
    { index: 1, name: "car", probability: 0.05 },
  ];
  const classIndex = options.classIndex ?? predictions[0]?.index ?? 0;
  const channel = options.channel ?? -1;
  const final = options.final ?? true;
  const sanity = options.sanity !== undefined;
  const square = (role: string, kind: string): Record<string, unknown> => ({
    ...imageMeta({
      kind,
      width: 28,
      height: 28,
      rows: 1,
      cols: 1,
      tile_width: 28,
      tile_height: 28,
    }),
    gap: 0,
    role,
  });
  const images = [square("image", "image"), square("heatmap", "heatmap")];
  if (channel >= 0)
    images.push({ ...imageMeta({ rows: 1, cols: 1, width: 11, height: 11 }), role: "feature_map" });
  if (view === "gradcam" && sanity && final) images.push(square("sanity", "heatmap"));
  const data: Record<string, unknown> = {
    predictions: predictions.map((p) => ({ ...p, logit: 1 })),
    class_index: classIndex,
    class_name: predictions.find((p) => p.index === classIndex)?.name ?? String(classIndex),
    n_classes: 10,
  };
  const method = options.method ?? (view === "gradcam" ? "gradcam" : "gradients");
  data.method = method;
  if (view === "gradcam") {
    data.channel_weights = [
      { channel: 7, weight: 0.5 },
      { channel: 2, weight: 0.25 },
      { channel: 0, weight: -0.1 },
    ];
    data.channels = 16;
    data.faithfulness = final
      ? options.faithfulness === undefined
        ? faithfulnessData({ classIndex })
        : options.faithfulness
      : null;
    data.sanity = sanity && final ? { rank_correlation: options.sanity } : null;
  } else if (method === "integrated") {
    data.completeness =
      options.completeness === undefined ? { sum: 2.5, gap: -0.01 } : options.completeness;
  }
  const msg = resultMessage(id, layerName, {
    view,
    final,
    options:
      view === "gradcam"
        ? { class_index: -1, cam_method: method, channel, sanity }
        : { class_index: -1, saliency_method: method },
    images,
    caption: `${view} · class ${classIndex}`,
    data,
  });
  // Buffers follow the images' roles, so a final message repeats its first one's bytes.
  const seed: Record<string, number> = { image: 0, heatmap: 1, feature_map: 2, sanity: 3 };
  return { msg, buffers: images.map((m, i) => pngBytes(seed[String(m.role)] ?? 10 + i)) };
}
