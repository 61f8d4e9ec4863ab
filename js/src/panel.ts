// The result panel: caption, warnings, the current tab's controls and pictures, and the
// loading/error states of the current selection. Each tab draws through a ResultView.

import { ActivationsView } from "./activationsView";
import { captionFor, warningsFor } from "./captions";
import { ExamplesView } from "./examplesView";
import { FiltersView } from "./filtersView";
import { h, setAttrs } from "./dom";
import { GradcamView, SaliencyView } from "./explainViews";
import { errorText } from "./errorStrings";
import { t } from "./i18n";
import { type Lang, VIEW_OPTIONS } from "./protocol";
import type { Display, StoredResult } from "./state";
import type { ResultView, ViewContext, ViewPrefs, ViewTraits } from "./viewCommon";
import { WeightsView } from "./weightsView";

export { fitWidth, MAX_UPSCALE } from "./fit";

/**
 * How long a selection loads before the panel says so (the "Computing…" overlay, the last
 * picture dimmed). Most answers come sooner; a status that flashes for a few milliseconds is
 * noise, and drawing it (a spinning, composited layer) costs the page a frame right when the
 * answer is due. A timer, not a CSS delay: a delayed CSS animation is set up at once.
 */
export const WAIT_MS = 200;

export interface PanelUpdate {
  layer: string;
  view: string;
  lang: Lang;
  display: Display;
  traits: ViewTraits;
}

export type SetTrait = ViewContext["set"];

/** The renderer kind of a view: a view this build does not know draws its first image. */
function rendererKind(view: string): string {
  return view === "weights" ||
    view === "gradcam" ||
    view === "saliency" ||
    view === "filters" ||
    view === "examples"
    ? view
    : "image";
}

function createView(kind: string, view: string, signal: AbortSignal): ResultView {
  switch (kind) {
    case "weights":
      return new WeightsView(signal);
    case "gradcam":
      return new GradcamView(signal);
    case "saliency":
      return new SaliencyView(signal);
    case "filters":
      return new FiltersView(signal);
    case "examples":
      return new ExamplesView(signal);
    default:
      return new ActivationsView(view);
  }
}

/**
 * Whether `result`, kept while the kernel works on a newer request for the same layer, view
 * and sample, already shows what that request asks for: a finished picture made with the
 * options chosen now. The kernel sends "pending" whenever it hears of a selection, also one
 * the browser drew from its own store a moment before (ipywidgets holds back and merges the
 * updates of a burst of clicks), so such a picture must not be dimmed or covered.
 */
export function showsCurrent(
  result: StoredResult | undefined,
  view: string,
  traits: ViewTraits,
): boolean {
  if (!result || !result.final) return false;
  const names: readonly string[] =
    view in VIEW_OPTIONS ? VIEW_OPTIONS[view as keyof typeof VIEW_OPTIONS] : [];
  const chosen: Record<string, unknown> = { ...traits };
  return names.every((name) => result.options[name] === chosen[name]);
}

/**
 * `display`, unless it shows a finished picture made with other options than those chosen
 * now: then a newer request is on its way (the kernel announces only answers that take a
 * while), and the picture is shown dimmed, as for a "pending" message.
 */
export function outdated(display: Display, view: string, traits: ViewTraits): Display {
  const result = display.result;
  if (display.state !== "ready" || !result) return display;
  const names: readonly string[] =
    view in VIEW_OPTIONS ? VIEW_OPTIONS[view as keyof typeof VIEW_OPTIONS] : [];
  const chosen: Record<string, unknown> = { ...traits };
  // Only options the result names count: a saved page's older snapshot must not load forever.
  const differs = names.some(
    (name) => name in result.options && result.options[name] !== chosen[name],
  );
  return differs ? { ...display, state: "loading", stale: true } : display;
}

export class ResultPanel {
  readonly element: HTMLDivElement;
  readonly #title: HTMLElement;
  readonly #caption: HTMLElement;
  readonly #warnings: HTMLUListElement;
  readonly #controls: HTMLDivElement;
  readonly #figure: HTMLDivElement;
  readonly #loading: HTMLDivElement;
  readonly #loadingText: HTMLSpanElement;
  readonly #error: HTMLDivElement;
  readonly #observer: ResizeObserver | null = null;
  readonly #signal: AbortSignal;
  readonly #set: SetTrait;
  readonly #prefs: ViewPrefs = { opacity: 0.5 };
  #view: ResultView | null = null;
  #kind = "";
  #state: Display["state"] = "loading";
  /** The figure's content width as the ResizeObserver last reported it. */
  #width: number | undefined;
  /** Shows the wait (class `is-waiting`) once a selection has loaded for WAIT_MS. */
  #waitTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(signal: AbortSignal, set: SetTrait = () => undefined) {
    this.element = h("div", { class: "cnnviz-panel", "data-panel": "", role: "tabpanel" });
    this.#title = h("span", { class: "cnnviz-caption-layer" });
    this.#caption = h("span", { class: "cnnviz-caption-text" });
    const captionLine = h("div", { class: "cnnviz-caption" });
    captionLine.append(this.#title, this.#caption);
    this.#warnings = h("ul", { class: "cnnviz-warnings" });
    this.#controls = h("div", { class: "cnnviz-toolbar" });
    this.#loading = h("div", { class: "cnnviz-loading", "data-role": "loading", role: "status" });
    this.#loadingText = h("span");
    this.#loading.append(
      h("span", { class: "cnnviz-spinner", "aria-hidden": "true" }),
      this.#loadingText,
    );
    this.#figure = h("div", { class: "cnnviz-figure" });
    this.#figure.append(this.#loading);
    this.#error = h("div", { class: "cnnviz-error", "data-role": "error", role: "alert" });
    this.#error.hidden = true;
    this.element.append(captionLine, this.#warnings, this.#controls, this.#error, this.#figure);
    this.#signal = signal;
    this.#set = set;
    if (typeof ResizeObserver !== "undefined") {
      // The figure's width comes from here, not from reading `clientWidth` after each
      // update: that read makes the browser lay out the whole page (JupyterLab's too) at
      // once, several milliseconds on every click.
      this.#observer = new ResizeObserver((entries) => {
        const box = entries[entries.length - 1]?.contentRect;
        if (box) this.#width = box.width;
        this.#fit();
      });
      this.#observer.observe(this.#figure);
    }
  }

  /** What the panel shows: "loading", "ready" or "error" (as `data-state`). */
  get state(): Display["state"] {
    return this.#state;
  }

  /**
   * Says that `layer` and `view` are loading, in the panel's data attributes only (no style
   * depends on them, so the page needs no redraw); the next `update` draws it.
   */
  announce(layer: string, view: string): void {
    this.#state = "loading";
    setAttrs(this.element, {
      "data-layer": layer,
      "data-view": view,
      "data-state": "loading",
      "aria-busy": "true",
    });
  }

  update({ layer, view, lang, display: given, traits }: PanelUpdate): void {
    const display = outdated(given, view, traits);
    const { state, result } = display;
    this.#state = state;
    setAttrs(this.element, {
      "data-layer": layer,
      "data-view": view,
      "data-state": state,
      "aria-busy": state === "loading" ? "true" : "false",
    });
    this.#title.textContent = layer || t(lang, "selectLayer");
    // An image kept from another selection says nothing about this one: no caption for it.
    this.#caption.textContent = captionFor(result, lang);
    this.#caption.hidden = !this.#caption.textContent;
    this.#renderWarnings(warningsFor(result, lang), lang);

    this.#error.hidden = state !== "error";
    const fallback = t(lang, display.reason === "noImage" ? "noImage" : "error");
    this.#error.textContent =
      state === "error" && display.message
        ? errorText(lang, display.message, display.code)
        : state === "error"
          ? fallback
          : "";
    // A picture that is already right (the kernel is only confirming it) gets no overlay.
    const confirming = state === "loading" && display.stale && showsCurrent(result, view, traits);
    // Unchanged text is left alone so screen readers do not announce the status again.
    const loadingText = t(lang, "loading");
    if (this.#loadingText.textContent !== loadingText) this.#loadingText.textContent = loadingText;

    const renderer = this.#viewFor(view);
    if (state === "error" || layer === "") renderer.clear();
    const ctx: ViewContext = { lang, layer, traits, prefs: this.#prefs, set: this.#set };
    renderer.update(state === "error" ? undefined : result, ctx);

    const shown = renderer.shown;
    const hasContent = shown !== null;
    if (hasContent) this.#figure.style.minHeight = "";
    // What is on screen belongs to another selection (the previous layer, kept while the
    // next one loads): dimmed, and not clickable, since its tiles mean other channels.
    const foreign = hasContent && shown !== result;
    const settled = confirming && !foreign;
    // A picture of this very request that is still improving (filter patterns, a heatmap
    // whose read-out is being measured) is not covered either: its view says what is coming.
    const streaming = state === "loading" && !display.stale && result !== undefined && !foreign;
    this.#loading.hidden = state !== "loading" || layer === "" || settled || streaming;
    const dim = state === "loading" && !settled && (display.stale || !result || foreign);
    this.#figure.classList.toggle("is-stale", dim);
    this.#wait(!this.#loading.hidden || dim);
    this.#figure.classList.toggle("is-empty", !hasContent);
    setAttrs(renderer.content, { inert: foreign });
    this.#figure.hidden = state === "error";
    this.#fit();
  }

  destroy(): void {
    this.#wait(false);
    this.#observer?.disconnect();
    this.#view?.destroy();
    this.#view = null;
  }

  /**
   * Whether the figure waits for an answer: the overlay and the dimming it marks (hidden
   * and `is-stale`, set at once) are drawn once the wait has lasted WAIT_MS (`is-waiting`).
   */
  #wait(waiting: boolean): void {
    if (!waiting) {
      if (this.#waitTimer !== null) clearTimeout(this.#waitTimer);
      this.#waitTimer = null;
      this.#figure.classList.remove("is-waiting");
      return;
    }
    if (this.#waitTimer !== null || this.#figure.classList.contains("is-waiting")) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = null;
      this.#figure.classList.add("is-waiting");
    }, WAIT_MS);
  }

  /** The renderer of `view`, made anew when the tab changes. */
  #viewFor(view: string): ResultView {
    const kind = rendererKind(view);
    if (this.#view && this.#kind === kind) return this.#view;
    // Keep the height the old tab had until the new one draws: the page must not jump.
    const height = this.#figure.offsetHeight;
    if (height > 0 && this.#view?.shown) this.#figure.style.minHeight = `${height}px`;
    this.#view?.destroy();
    this.#view?.content.remove();
    const next = createView(kind, view, this.#signal);
    this.#view = next;
    this.#kind = kind;
    this.#controls.replaceChildren(next.controls);
    this.#figure.prepend(next.content);
    return next;
  }

  #renderWarnings(warnings: readonly string[], lang: Lang): void {
    this.#warnings.replaceChildren(
      ...warnings.map((text) => {
        const item = h("li", { "data-role": "warning" });
        item.append(
          h("span", { class: "cnnviz-warning-mark", "aria-hidden": "true" }, "⚠"),
          h("span", { class: "cnnviz-visually-hidden" }, `${t(lang, "warning")}: `),
          h("span", {}, text),
        );
        return item;
      }),
    );
    this.#warnings.hidden = warnings.length === 0;
  }

  #fit(): void {
    const width = this.#width ?? this.#figure.clientWidth;
    if (width > 0) this.#view?.fit(width);
  }
}
