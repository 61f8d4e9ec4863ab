// The result panel: caption, image and the loading/error states of the current selection.

import { h, pngUrl, setAttrs } from "./dom";
import { formatShape } from "./format";
import { t, viewLabel } from "./i18n";
import type { ImageMeta, Lang } from "./protocol";
import type { Display, StoredResult } from "./state";

/** Feature maps are a few pixels per tile; beyond this zoom they stop being readable. */
export const MAX_UPSCALE = 8;

export interface PanelUpdate {
  layer: string;
  view: string;
  lang: Lang;
  display: Display;
}

/** Display width of an image `natural` px wide in a box `available` px wide. */
export function fitWidth(natural: number, available: number): number {
  if (natural <= 0 || available <= 0) return natural;
  let scale = Math.min(MAX_UPSCALE, available / natural);
  // Whole-number zoom keeps every source pixel the same size on screen.
  if (scale >= 2) scale = Math.floor(scale);
  return Math.max(1, Math.floor(natural * scale));
}

export class ResultPanel {
  readonly element: HTMLDivElement;
  readonly #title: HTMLElement;
  readonly #caption: HTMLElement;
  readonly #warnings: HTMLUListElement;
  readonly #figure: HTMLDivElement;
  // Created with the first image, so a panel with nothing to show holds no <img> at all.
  #img: HTMLImageElement | null = null;
  readonly #loading: HTMLDivElement;
  readonly #loadingText: HTMLSpanElement;
  readonly #error: HTMLDivElement;
  readonly #observer: ResizeObserver | null = null;
  readonly #signal: AbortSignal;
  #url: string | null = null;
  #shown: StoredResult | null = null;

  constructor(signal: AbortSignal) {
    this.element = h("div", { class: "cnnviz-panel", "data-panel": "", role: "tabpanel" });
    this.#title = h("span", { class: "cnnviz-caption-layer" });
    this.#caption = h("span", { class: "cnnviz-caption-text" });
    const captionLine = h("div", { class: "cnnviz-caption" });
    captionLine.append(this.#title, this.#caption);
    this.#warnings = h("ul", { class: "cnnviz-warnings" });
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
    this.element.append(captionLine, this.#warnings, this.#error, this.#figure);
    this.#signal = signal;
    if (typeof ResizeObserver !== "undefined") {
      this.#observer = new ResizeObserver(() => this.#fit());
      this.#observer.observe(this.#figure);
    }
  }

  update({ layer, view, lang, display }: PanelUpdate): void {
    const { state, result } = display;
    setAttrs(this.element, {
      "data-layer": layer,
      "data-view": view,
      "data-state": state,
      "aria-busy": state === "loading" ? "true" : "false",
    });
    this.#title.textContent = layer || t(lang, "selectLayer");
    // An image kept from another selection says nothing about this one: no caption for it.
    this.#caption.textContent = result?.caption ?? "";
    this.#caption.hidden = !result?.caption;
    this.#renderWarnings(result?.warnings ?? [], lang);

    this.#error.hidden = state !== "error";
    const fallback = t(lang, display.reason === "noImage" ? "noImage" : "error");
    this.#error.textContent = state === "error" ? display.message || fallback : "";
    this.#loading.hidden = state !== "loading" || layer === "";
    // Unchanged text is left alone so screen readers do not announce the status again.
    const loadingText = t(lang, "loading");
    if (this.#loadingText.textContent !== loadingText) this.#loadingText.textContent = loadingText;

    if (result) this.#show(result, layer, view, lang);
    if (state === "error" || layer === "") this.#clearImage();
    const dim = state === "loading" && (display.stale || !result);
    this.#figure.classList.toggle("is-stale", dim);
    this.#figure.classList.toggle("is-empty", this.#img === null);
    this.#figure.hidden = state === "error";
  }

  destroy(): void {
    this.#observer?.disconnect();
    this.#clearImage();
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

  #show(result: StoredResult, layer: string, view: string, lang: Lang): void {
    const img = this.#img ?? this.#createImage();
    setAttrs(img, { alt: t(lang, "resultAlt", { view: viewLabel(lang, view), layer }) });
    // Re-rendering for an unrelated trait must not reload the same picture.
    if (this.#shown === result) return;
    const previous = this.#url;
    this.#url = pngUrl(result.png);
    this.#shown = result;
    img.src = this.#url;
    if (previous) URL.revokeObjectURL(previous);
    setImageData(img, result.image, lang);
    this.#fit();
  }

  #clearImage(): void {
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = null;
    this.#shown = null;
    this.#img?.remove();
    this.#img = null;
  }

  #createImage(): HTMLImageElement {
    const img = h("img", { class: "cnnviz-image", alt: "", draggable: "false" });
    img.addEventListener("load", () => this.#fit(), { signal: this.#signal });
    this.#figure.prepend(img);
    this.#img = img;
    return img;
  }

  #fit(): void {
    const img = this.#img;
    if (!img) return;
    const natural = this.#shown?.image.width || img.naturalWidth;
    const available = this.#figure.clientWidth;
    if (!natural || !available) return;
    img.style.width = `${fitWidth(natural, available)}px`;
  }
}

/** Mosaic geometry on the element, so tile hit-testing and tests can read it. */
function setImageData(img: HTMLImageElement, meta: ImageMeta, lang: Lang): void {
  setAttrs(img, {
    width: meta.width || null,
    height: meta.height || null,
    "data-kind": meta.kind,
    "data-rows": meta.rows,
    "data-cols": meta.cols,
    "data-tile-width": meta.tile_width,
    "data-tile-height": meta.tile_height,
    "data-gap": meta.gap,
    title:
      meta.downsample > 1
        ? t(lang, "downsampled", { n: meta.downsample, shape: formatShape(meta.true_shape) })
        : null,
  });
}
