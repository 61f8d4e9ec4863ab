// anywidget entry: request/result state per model in `initialize`, DOM per view in `render`.

import type { AnyModel, Initialize, Render } from "@anywidget/types";
import { h, uniqueId } from "./dom";
import { rejectedText } from "./errorStrings";
import { GraphView } from "./graphView";
import { t, toLang } from "./i18n";
import { LayerList } from "./layerList";
import { ResultPanel } from "./panel";
import {
  type Lang,
  type LayerInfo,
  REFRESH,
  type RefreshMessage,
  type SampleInfo,
  type Snapshot,
  selectionKey,
  type Traits,
  SALIENCY_METHODS,
  VIEW_OPTIONS,
  VIEWS,
} from "./protocol";
import { SamplePicker } from "./samplePicker";
import { messageHandler, NOTICE, needsRefresh, ResultStore, resolveDisplay } from "./state";
import type { ViewTraits } from "./viewCommon";
import { ViewTabs } from "./viewTabs";

/** Below this width the tree goes above the panel (JupyterLab side panel, narrow cells). */
export const NARROW_WIDTH = 560;
/** Side by side below this width, or stacked below TIGHT_WIDTH, the tree drops its Type column. */
export const COMPACT_WIDTH = 820;
export const TIGHT_WIDTH = 460;
/** How long a choice's redraw waits for the kernel's answer at most (see `choose`). */
export const REDRAW_AFTER_MS = 50;

type Model = AnyModel<Traits>;

const GRAPH_LABEL: Record<Lang, string> = { en: "Graph", ko: "그래프" };

/** The traits a view draws from, each checked, so a missing or odd value never throws. */
export interface Selection {
  layers: LayerInfo[];
  samples: SampleInfo[];
  layer: string;
  view: string;
  views: string[];
  sample: number;
  lang: Lang;
  modelName: string;
  snapshot: Snapshot | undefined;
  traits: ViewTraits;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === "string" && (allowed as readonly string[]).includes(value)
    ? (value as T)
    : fallback;
}

function intOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) ? value : fallback;
}

/** The options the tabs show, each checked like the rest of the selection. */
export function readTraits(model: Model): ViewTraits {
  const names = model.get("class_names");
  return {
    class_names: Array.isArray(names) ? names.map(String) : [],
    class_index: intOr(model.get("class_index"), -1),
    cam_method: stringOr(model.get("cam_method"), "gradcam"),
    saliency_method: oneOf(model.get("saliency_method"), SALIENCY_METHODS, "gradients"),
    sanity: model.get("sanity") === true,
    in_channel: intOr(model.get("in_channel"), 0),
    rgb: model.get("rgb") === true,
    channel: intOr(model.get("channel"), -1),
    filter_count: intOr(model.get("filter_count"), 16),
  };
}

export function readSelection(model: Model): Selection {
  const view = stringOr(model.get("view"), VIEWS[0]);
  const views = model.get("views");
  const sample = model.get("sample");
  const snapshot = model.get("snapshot");
  const layers = model.get("layers");
  const samples = model.get("samples");
  return {
    layers: Array.isArray(layers) ? layers : [],
    samples: Array.isArray(samples) ? samples : [],
    layer: stringOr(model.get("layer"), ""),
    view,
    views: Array.isArray(views) && views.length > 0 ? views.map(String) : [view],
    sample: typeof sample === "number" ? sample : 0,
    lang: toLang(model.get("lang")),
    modelName: stringOr(model.get("model_name"), ""),
    snapshot: snapshot && typeof snapshot === "object" ? snapshot : undefined,
    traits: readTraits(model),
  };
}

/** Traits a view may set: the selection and the tabs' options. */
type Choosable = "layer" | "view" | "sample" | Exclude<keyof ViewTraits, "class_names">;

function renderView(model: Model, el: HTMLElement, store: ResultStore): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const idPrefix = uniqueId("cnnviz");
  // A choice made here goes to the kernel before the page redraws for it: the listeners the
  // change fires wait until `save_changes` has sent it. And while the kernel works, the page
  // is left alone: the redraw waits for the answer (or REDRAW_AFTER_MS at most), so that a
  // quick answer finds the page idle and is drawn in the frame that draws the selection. A
  // redraw right after the click (style, layout and paint of a whole JupyterLab page, 5-10
  // ms) would delay the kernel's messages, which queue behind it. Only the panel's data
  // attributes change at once (no style depends on them): `data-state` says "loading".
  let held: Set<() => void> | null = null;
  let deferred: Set<() => void> | null = null;
  let deferTimer: ReturnType<typeof setTimeout> | null = null;
  /** While a key's listeners run: a choice made with a key is drawn at once. */
  let byKey = false;
  const gated = (callback: () => void) => (): void => {
    if (held) held.add(callback);
    else if (deferred) deferred.add(callback);
    else callback();
  };
  /** Runs the redraw a choice put off (when an answer arrives, on input, or on time). */
  const redraw = (): void => {
    if (deferTimer !== null) clearTimeout(deferTimer);
    deferTimer = null;
    const waiting = deferred;
    deferred = null;
    if (waiting) for (const callback of waiting) callback();
  };
  const choose = <K extends Choosable>(key: K, value: Traits[K]): void => {
    redraw();
    store.clearNotice();
    const waiting = new Set<() => void>();
    held = waiting;
    try {
      model.set(key, value);
      model.save_changes();
    } finally {
      held = null;
      const s = readSelection(model);
      const key = selectionKey(s.layer, s.view, s.sample);
      const display = resolveDisplay(store.get(key), s.snapshot, key);
      if (waiting.size === 0 || display.state !== "loading" || s.layer === "" || byKey) {
        // Drawn from the browser's store, nothing to wait for, or chosen with a key (the
        // focus follows the key at once): drawn now.
        for (const callback of waiting) callback();
      } else {
        deferred = waiting;
        deferTimer = setTimeout(redraw, REDRAW_AFTER_MS);
        panel.announce(s.layer, s.view);
      }
    }
  };
  const refresh = (): void => {
    const message: RefreshMessage = { type: REFRESH };
    try {
      model.send(message);
    } catch {
      // No kernel (exported HTML without a snapshot): nothing can answer anyway.
    }
  };

  const root = h("div", { class: "cnnviz" });
  const title = h("span", { class: "cnnviz-title" });
  const count = h("span", { class: "cnnviz-count" });
  // One line saying why the kernel refused a value set here (the old value stays).
  const notice = h("div", { class: "cnnviz-notice", role: "status", "data-role": "notice" });
  notice.hidden = true;
  const header = h("div", { class: "cnnviz-header" });
  header.append(title, count, notice);
  const layerList = new LayerList({
    idPrefix,
    signal,
    onSelect: (name) => choose("layer", name),
    // Clicking the selected layer again while its panel shows an error tries again.
    onReselect: () => {
      if (panel.state === "error") refresh();
    },
  });
  // The model drawn as its graph, toggled in place of the layer list (same selection).
  const graph = new GraphView({ signal, onSelect: (name) => choose("layer", name) });
  graph.element.style.display = "none";
  let graphShown = false;
  const graphToggle = h("button", {
    class: "cnnviz-graph-toggle",
    type: "button",
    "data-role": "graph-toggle",
    "aria-pressed": "false",
  });
  const showGraph = (shown: boolean): void => {
    graphShown = shown;
    graphToggle.setAttribute("aria-pressed", String(shown));
    layerList.element.style.display = shown ? "none" : "";
    graph.element.style.display = shown ? "" : "none";
    if (shown) {
      graph.setGraph(model.get("graph"));
      graph.select(readSelection(model).layer);
    }
  };
  graphToggle.addEventListener("click", () => showGraph(!graphShown), { signal });
  header.append(graphToggle);
  const picker = new SamplePicker({ signal, onSelect: (index) => choose("sample", index) });
  const tabs = new ViewTabs({ idPrefix, signal, onSelect: (view) => choose("view", view) });
  const panel = new ResultPanel(signal, (key, value) => choose(key, value as never));
  const main = h("div", { class: "cnnviz-main" });
  main.append(picker.element, tabs.element, panel.element);
  const body = h("div", { class: "cnnviz-body" });
  body.append(layerList.element, graph.element, main);
  root.append(header, body);

  const updatePanel = (): void => {
    const s = readSelection(model);
    const key = selectionKey(s.layer, s.view, s.sample);
    const display = resolveDisplay(store.get(key), s.snapshot, key);
    panel.update({ layer: s.layer, view: s.view, lang: s.lang, display, traits: s.traits });
    const tabId = tabs.tabId(s.view);
    if (tabId) panel.element.setAttribute("aria-labelledby", tabId);
    else panel.element.removeAttribute("aria-labelledby");
  };
  const updateHeader = (): void => {
    const s = readSelection(model);
    root.setAttribute("lang", s.lang);
    graphToggle.textContent = GRAPH_LABEL[s.lang];
    graph.setLang(s.lang);
    title.textContent = s.modelName;
    title.hidden = s.modelName === "";
    count.textContent = t(s.lang, "layerCount", { n: s.layers.length });
  };
  const onLayers = (): void => {
    const s = readSelection(model);
    layerList.setLayers(s.layers, s.lang);
    layerList.setSelected(s.layer);
    updateHeader();
  };
  const onSamples = (): void => {
    const s = readSelection(model);
    picker.setSamples(s.samples, s.lang);
    picker.setSelected(s.sample);
  };
  const onViews = (): void => {
    const s = readSelection(model);
    tabs.setViews(s.views, s.lang);
    tabs.setSelected(s.view);
    updatePanel();
  };
  const onGraph = (): void => {
    if (graphShown) graph.setGraph(model.get("graph"));
  };
  const onLayer = (): void => {
    layerList.setSelected(readSelection(model).layer);
    graph.select(readSelection(model).layer);
    updatePanel();
  };
  const onSample = (): void => {
    picker.setSelected(readSelection(model).sample);
    updatePanel();
  };
  const onView = (): void => {
    tabs.setSelected(readSelection(model).view);
    updatePanel();
  };
  const onLang = (): void => {
    onLayers();
    onSamples();
    onViews();
    showNotice();
  };

  const listeners: [string, () => void][] = [
    ["change:layers", onLayers],
    ["change:graph", onGraph],
    ["change:model_name", updateHeader],
    ["change:samples", onSamples],
    ["change:views", onViews],
    ["change:layer", onLayer],
    ["change:sample", onSample],
    ["change:view", onView],
    ["change:lang", onLang],
    ["change:snapshot", updatePanel],
    ...["class_names", ...new Set(Object.values(VIEW_OPTIONS).flat())].map(
      (name): [string, () => void] => [`change:${name}`, updatePanel],
    ),
  ];
  const gatedListeners = listeners.map(([event, callback]): [string, () => void] => [
    event,
    gated(callback),
  ]);
  for (const [event, callback] of gatedListeners) model.on(event, callback);
  // Input reads what is on screen (the row below the selected one, the next sample): a
  // redraw put off is done first.
  root.addEventListener("pointerdown", redraw, { capture: true, signal });
  root.addEventListener(
    "keydown",
    () => {
      redraw();
      byKey = true;
      setTimeout(() => {
        byKey = false;
      }, 0); // after this event's listeners, whichever stop it
    },
    { capture: true, signal },
  );
  const showNotice = (): void => {
    const refused = store.notice;
    notice.textContent = refused ? rejectedText(readSelection(model).lang, refused) : "";
    notice.hidden = refused === null;
  };
  const unsubscribe = store.subscribe((key) => {
    redraw(); // an answer (or a notice) came: the selection is drawn with it
    if (key === NOTICE) {
      showNotice();
      return;
    }
    const s = readSelection(model);
    if (key === selectionKey(s.layer, s.view, s.sample)) updatePanel();
  });

  onLang();
  showNotice();
  el.append(root);

  const resize =
    typeof ResizeObserver === "undefined"
      ? null
      : new ResizeObserver((entries) => {
          const width = entries[entries.length - 1]?.contentRect.width ?? 0;
          // Zero means hidden (a collapsed output): keep the last layout.
          if (width <= 0) return;
          root.classList.toggle("is-narrow", width < NARROW_WIDTH);
          const sideBySideTight = width >= NARROW_WIDTH && width < COMPACT_WIDTH;
          root.classList.toggle("is-compact", sideBySideTight || width < TIGHT_WIDTH);
        });
  resize?.observe(root);

  // A view opened after the kernel answered (or before it ever did) asks once.
  const s = readSelection(model);
  const key = selectionKey(s.layer, s.view, s.sample);
  if (s.layer !== "" && needsRefresh(store.get(key), s.snapshot, key) && store.claimRefresh(key)) {
    refresh();
  }

  return () => {
    controller.abort();
    if (deferTimer !== null) clearTimeout(deferTimer);
    deferred = null;
    for (const [event, callback] of gatedListeners) model.off(event, callback);
    unsubscribe();
    resize?.disconnect();
    panel.destroy();
    picker.destroy();
    graph.destroy();
    root.remove();
  };
}

/**
 * anywidget calls a default-exported function once per model (its loader runs
 * `mod.default()` for each widget), so this closure is the per-model state that
 * `initialize` and every `render` of that model share. A plain object would not
 * do: anywidget hands each hook a different model proxy, so render could not
 * find the store its initialize made.
 */
export default function createWidget(): { initialize: Initialize<Traits>; render: Render<Traits> } {
  let store: ResultStore | null = null;
  let detach: (() => void) | null = null;

  const listen = (model: Model): ResultStore => {
    const created = new ResultStore();
    const handler = messageHandler(created);
    model.on("msg:custom", handler);
    detach = () => model.off("msg:custom", handler);
    store = created;
    return created;
  };

  return {
    initialize({ model }) {
      detach?.();
      listen(model);
      return () => {
        detach?.();
        detach = null;
      };
    },
    render({ model, el }) {
      // A host that skips initialize: the first render makes the store and listens.
      return renderView(model, el, store ?? listen(model));
    },
  };
}
