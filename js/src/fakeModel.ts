// Test double for an anywidget model (not bundled: only tests import it).
// Like ipywidgets it fires `change:<name>` synchronously inside set(), and like
// anywidget it hands every hook its own proxy object over one shared model.

import type { AnyModel } from "@anywidget/types";
import type { LayerInfo, Traits } from "./protocol";
import createWidget from "./widget";

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
    smooth: false,
    in_channel: 0,
    rgb: false,
    channel: -1,
    snapshot: {},
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
  return {
    type: "result",
    id,
    layer: layerName,
    view: "activations",
    sample: 0,
    final: true,
    image: imageMeta(),
    caption: "32 channels, 26 × 26",
    warnings: [],
    ...extra,
  };
}

export interface Mounted {
  el: HTMLElement;
  root: HTMLElement;
  cleanup: () => void;
}

/** Runs the widget the way anywidget does: one initialize, then one render per view. */
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
