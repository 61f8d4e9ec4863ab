// Feature maps (and any view this build does not know): the first image, whole.

import { h, setAttrs } from "./dom";
import { imageFit, pixelFit } from "./fit";
import { formatShape } from "./format";
import { t, viewLabel } from "./i18n";
import type { ImageMeta, Lang } from "./protocol";
import type { StoredResult } from "./state";
import { place, type ResultView, ResultUrls, type ViewContext } from "./viewCommon";

export class ActivationsView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  readonly #view: string;
  readonly #urls = new ResultUrls();
  // Created with the first image, so a panel with nothing to show holds no <img> at all.
  #img: HTMLImageElement | null = null;
  #shown: StoredResult | null = null;
  #width = 0;

  constructor(view: string) {
    this.#view = view;
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.hidden = true;
    this.content = h("div", { class: "cnnviz-view", "data-view-body": view });
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    if (!result) return;
    const img = this.#img ?? this.#createImage();
    setAttrs(img, {
      alt: t(ctx.lang, "resultAlt", { view: viewLabel(ctx.lang, this.#view), layer: ctx.layer }),
    });
    setImageData(img, result.image, ctx.lang);
    // Re-rendering for an unrelated trait must not reload the same picture.
    if (this.#shown === result) return;
    this.#shown = result;
    const url = this.#urls.url(result, 0);
    if (url) img.src = url;
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    const img = this.#img;
    const meta = this.#shown?.image;
    if (!img || !meta || width <= 0) return;
    const w = meta.width || img.naturalWidth;
    const h = meta.height || img.naturalHeight;
    if (!w || !h) return;
    // Mosaics, strips and small images are pixel data; a big photo is drawn smoothly.
    const pixel =
      meta.kind === "mosaic" ||
      meta.kind === "strip" ||
      meta.kind === "kernels" ||
      meta.kind === "patterns";
    place(img, pixel ? pixelFit(w, h, width) : imageFit(w, h, width));
  }

  clear(): void {
    this.#urls.revoke();
    this.#shown = null;
    this.#img?.remove();
    this.#img = null;
  }

  destroy(): void {
    this.clear();
  }

  #createImage(): HTMLImageElement {
    const img = h("img", { class: "cnnviz-image", alt: "", draggable: "false" });
    img.addEventListener("load", () => this.fit(this.#width));
    this.content.prepend(img);
    this.#img = img;
    return img;
  }
}

/** Mosaic geometry on the element, so tile hit-testing and tests can read it. */
export function setImageData(img: HTMLImageElement, meta: ImageMeta, lang: Lang): void {
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
