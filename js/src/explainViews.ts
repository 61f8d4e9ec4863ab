// The Grad-CAM and Saliency tabs: the image with its heatmap, the top-5 predictions, a
// class picker, and (Grad-CAM) the ranked channel weights with the linked feature map.

import { h, setAttrs } from "./dom";
import { type Fit, imageFit, pixelFit, smoothFit } from "./fit";
import { formatNumber, formatPercent } from "./format";
import { type StringKey, t } from "./i18n";
import { CAM_METHODS, type CamMethod, type ImageMeta, type Lang } from "./protocol";
import { imageByRole, type StoredResult } from "./state";
import {
  fillSelect,
  iconButton,
  labelled,
  pendingNote,
  place,
  replaceKeepingFocus,
  type ResultView,
  ResultUrls,
  setLabel,
  type ViewContext,
} from "./viewCommon";
import { type ExplainData, readExplainData } from "./viewData";

/** Largest side of the image and heatmap on screen. */
export const EXPLAIN_SIDE = 320;
const GAP = 16;
/** Border and padding of the linked feature map's box, left and right together. */
const LINKED_CHROME = 16;
/** Small inputs (MNIST) may be zoomed this far to reach EXPLAIN_SIDE. */
const EXPLAIN_UPSCALE = 16;

export function methodLabel(lang: Lang, method: string): string {
  return (CAM_METHODS as readonly string[]).includes(method)
    ? t(lang, `method_${method as CamMethod}` as StringKey)
    : method;
}

/** Options of the class picker: the top prediction, then every class by name or index. */
export function classOptions(
  lang: Lang,
  names: readonly string[],
  nClasses: number | null,
  selected: number,
): [string, string][] {
  const n = Math.max(names.length, nClasses ?? 0, selected + 1);
  const options: [string, string][] = [["-1", t(lang, "topPrediction")]];
  for (let i = 0; i < n; i++) {
    const name = names[i];
    const label =
      name === undefined || name === "" || name === String(i)
        ? String(i)
        : t(lang, "classOption", { name, index: i });
    options.push([String(i), label]);
  }
  return options;
}

/** The class picker and the predictions list, shared by both tabs. */
class ClassControls {
  readonly picker: HTMLSelectElement;
  readonly pickerControl: HTMLElement;
  readonly predictions: HTMLElement;
  readonly #list: HTMLElement;
  readonly #heading: HTMLElement;
  #ctx: ViewContext | null = null;

  constructor(signal: AbortSignal) {
    this.picker = h("select", { "data-role": "class-picker" });
    this.pickerControl = labelled("", this.picker);
    this.predictions = h("section", { class: "cnnviz-predictions", "data-role": "predictions" });
    this.#heading = h("div", { class: "cnnviz-subheading" });
    this.#list = h("div", { class: "cnnviz-prediction-list" });
    this.predictions.append(this.#heading, this.#list);
    this.picker.addEventListener(
      "change",
      () => {
        const value = Number(this.picker.value);
        if (Number.isInteger(value)) this.#ctx?.set("class_index", value);
      },
      { signal },
    );
    this.#list.addEventListener(
      "click",
      (e) => {
        const target = e.target instanceof Element ? e.target : null;
        const index = Number(target?.closest<HTMLElement>("[data-index]")?.dataset.index);
        if (Number.isInteger(index) && index >= 0) this.#ctx?.set("class_index", index);
      },
      { signal },
    );
  }

  sync(ctx: ViewContext, data: ExplainData | null): void {
    this.#ctx = ctx;
    const { lang, traits } = ctx;
    const label = this.pickerControl.querySelector(".cnnviz-control-label");
    if (label) label.textContent = t(lang, "classLabel");
    fillSelect(
      this.picker,
      classOptions(lang, traits.class_names, data?.nClasses ?? null, traits.class_index),
      String(traits.class_index),
    );
  }

  /** Rebuilds the list from a result's predictions. */
  show(data: ExplainData | null, lang: Lang): void {
    this.#heading.textContent = t(lang, "predictions");
    const rows = (data?.predictions ?? []).map((p) => {
      const explained = p.index === data?.classIndex;
      const row = h("button", {
        type: "button",
        class: "cnnviz-prediction",
        "data-role": "prediction",
        "data-index": p.index,
        "data-key": `class-${p.index}`,
        "aria-pressed": explained ? "true" : "false",
        title: t(lang, "explainClass", { name: p.name }),
      });
      const bar = h("span", { class: "cnnviz-prediction-bar", "aria-hidden": "true" });
      const fill = h("span", { class: "cnnviz-prediction-fill" });
      fill.style.width = `${Math.max(0, Math.min(100, p.probability * 100)).toFixed(1)}%`;
      bar.append(fill);
      row.append(
        h("span", { class: "cnnviz-prediction-name", "data-role": "class-name" }, p.name),
        bar,
        h("span", { class: "cnnviz-prediction-prob" }, formatPercent(p.probability)),
      );
      return row;
    });
    replaceKeepingFocus(this.#list, rows);
    this.predictions.hidden = rows.length === 0;
  }
}

interface Placed {
  img: HTMLImageElement;
  meta: ImageMeta;
}

/** Grad-CAM: heatmap over the image, method, class, opacity, channel weights. */
export class GradcamView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  readonly #method: HTMLSelectElement;
  readonly #methodControl: HTMLElement;
  readonly #opacity: HTMLInputElement;
  readonly #opacityControl: HTMLElement;
  readonly #classes: ClassControls;
  readonly #row: HTMLElement;
  readonly #overlay: HTMLElement;
  readonly #overlayCaption: HTMLElement;
  readonly #linked: HTMLElement;
  readonly #strip: HTMLElement;
  readonly #urls = new ResultUrls();
  #base: Placed | null = null;
  #heat: Placed | null = null;
  #linkedMap: Placed | null = null;
  #ctx: ViewContext | null = null;
  #shown: StoredResult | null = null;
  #data: ExplainData | null = null;
  #builtLang: Lang | null = null;
  #linkedSignature = "";
  #width = 0;

  constructor(signal: AbortSignal) {
    this.#classes = new ClassControls(signal);
    this.#method = h("select", { "data-role": "cam-method" });
    this.#methodControl = labelled("", this.#method);
    this.#opacity = h("input", {
      type: "range",
      min: 0,
      max: 1,
      step: 0.05,
      "data-role": "opacity",
    });
    this.#opacityControl = labelled("", this.#opacity, "is-range");
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(this.#methodControl, this.#classes.pickerControl, this.#opacityControl);

    this.content = h("div", { class: "cnnviz-view cnnviz-explain", "data-view-body": "gradcam" });
    this.#row = h("div", { class: "cnnviz-explain-row" });
    const figure = h("figure", { class: "cnnviz-overlay-figure" });
    this.#overlay = h("div", { class: "cnnviz-overlay", "data-role": "overlay" });
    this.#overlayCaption = h("figcaption", { class: "cnnviz-muted" });
    figure.append(this.#overlay, this.#overlayCaption);
    this.#linked = h("section", {
      class: "cnnviz-linked cnnviz-linked-map",
      "data-role": "linked",
    });
    this.#strip = h("section", { class: "cnnviz-channel-strip", "data-role": "channel-strip" });
    this.#row.append(figure, this.#linked, this.#classes.predictions);
    this.content.append(this.#row, this.#strip);

    this.#method.addEventListener(
      "change",
      () => {
        const value = this.#method.value;
        if ((CAM_METHODS as readonly string[]).includes(value)) {
          this.#ctx?.set("cam_method", value as CamMethod);
        }
      },
      { signal },
    );
    this.#opacity.addEventListener("input", () => this.#setOpacity(Number(this.#opacity.value)), {
      signal,
    });
    this.#strip.addEventListener("click", (e) => this.#onChannelClick(e), { signal });
    this.#linked.addEventListener(
      "click",
      (e) => {
        const target = e.target instanceof Element ? e.target : null;
        if (target?.closest("[data-role=close-linked]")) this.#ctx?.set("channel", -1);
      },
      { signal },
    );
    this.#syncVisibility();
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    const { lang } = ctx;
    if (result && (result !== this.#shown || lang !== this.#builtLang)) {
      this.#shown = result;
      this.#builtLang = lang;
      this.#linkedSignature = "";
      this.#data = readExplainData(result.data);
      this.#build(result, this.#data, lang);
    }
    setLabel(this.#methodControl, t(lang, "method"));
    fillSelect(
      this.#method,
      CAM_METHODS.map((m) => [m, methodLabel(lang, m)] as const),
      ctx.traits.cam_method,
    );
    setLabel(this.#opacityControl, t(lang, "opacity"));
    this.#opacity.value = String(ctx.prefs.opacity);
    setAttrs(this.#opacity, { "aria-valuetext": `${Math.round(ctx.prefs.opacity * 100)}%` });
    this.#setOpacity(ctx.prefs.opacity);
    this.#classes.sync(ctx, this.#data);
    this.#syncStrip(ctx.traits.channel);
    this.#syncLinked(ctx);
    this.#syncVisibility();
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    if (width <= 0) return;
    const linked = !this.#linked.hidden && this.#linkedMap !== null;
    // Beside the linked map (its box adds LINKED_CHROME px) when both fit, else one each row.
    const side = Math.min(EXPLAIN_SIDE, linked ? (width - GAP - LINKED_CHROME) / 2 : width);
    const ref = this.#base ?? this.#heat;
    if (ref) {
      const fit = explainFit(ref.meta, side);
      if (this.#base) place(this.#base.img, fit);
      if (this.#heat) place(this.#heat.img, { ...fit, smooth: true });
      this.#overlay.style.width = `${fit.width}px`;
      this.#overlay.style.height = `${fit.height}px`;
    }
    if (this.#linkedMap) {
      const { img, meta } = this.#linkedMap;
      const fit = pixelFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
      place(img, fit);
      // The box is as wide as its picture: a long heading wraps instead of widening it.
      this.#linked.style.width = `${Math.max(fit.width, 160) + LINKED_CHROME}px`;
    } else {
      this.#linked.style.width = "";
    }
  }

  clear(): void {
    this.#urls.revoke();
    this.#shown = null;
    this.#data = null;
    this.#base = this.#heat = this.#linkedMap = null;
    this.#builtLang = null;
    this.#linkedSignature = "";
    this.#overlay.replaceChildren();
    this.#overlayCaption.textContent = "";
    this.#linked.replaceChildren();
    this.#strip.replaceChildren();
    this.#classes.show(null, this.#ctx?.lang ?? "en");
    this.#syncVisibility();
  }

  destroy(): void {
    this.clear();
  }

  #build(result: StoredResult, data: ExplainData, lang: Lang): void {
    const base = imageByRole(result, "image");
    const heat = imageByRole(result, "heatmap");
    this.#base = base ? this.#image(result, base, t(lang, "inputImage"), "image") : null;
    const alt = t(lang, "heatmapAlt", {
      method: methodLabel(lang, data.method),
      name: data.className,
    });
    this.#heat = heat ? this.#image(result, heat, alt, "heatmap") : null;
    if (this.#heat) this.#heat.img.classList.add("cnnviz-heat");
    this.#overlay.replaceChildren(
      ...[this.#base, this.#heat].filter((p): p is Placed => p !== null).map((p) => p.img),
    );
    // Natural size until the first fit: the stacked images are positioned, so the box
    // would otherwise have no height at all.
    const ref = this.#base ?? this.#heat;
    this.#overlay.style.width = ref ? `${ref.meta.width}px` : "";
    this.#overlay.style.height = ref ? `${ref.meta.height}px` : "";
    this.#overlayCaption.textContent = [methodLabel(lang, data.method), data.className]
      .filter(Boolean)
      .join(" · ");
    this.#classes.show(data, lang);
    this.#buildStrip(data, lang);
  }

  #image(
    result: StoredResult,
    found: { meta: ImageMeta; index: number },
    alt: string,
    role: string,
  ): Placed {
    const img = h("img", {
      class: "cnnviz-image",
      src: this.#urls.url(result, found.index),
      alt,
      draggable: "false",
      "data-role": role,
      width: found.meta.width || null,
      height: found.meta.height || null,
    });
    img.addEventListener("load", () => this.fit(this.#width));
    return { img, meta: found.meta };
  }

  #setOpacity(value: number): void {
    const opacity = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5;
    if (this.#ctx) this.#ctx.prefs.opacity = opacity;
    if (this.#heat) this.#heat.img.style.opacity = String(opacity);
    setAttrs(this.#opacity, { "aria-valuetext": `${Math.round(opacity * 100)}%` });
  }

  #buildStrip(data: ExplainData, lang: Lang): void {
    const weights = data.channelWeights;
    if (weights.length === 0) {
      this.#strip.replaceChildren();
      return;
    }
    const maxAbs = Math.max(...weights.map((w) => Math.abs(w.weight))) || 1;
    const signed = weights.some((w) => w.weight < 0);
    const bars = h("div", { class: "cnnviz-channel-bars", role: "group" });
    bars.classList.toggle("is-signed", signed);
    const buttons = weights.map((w) => {
      const label = t(lang, "channelBar", { channel: w.channel, weight: formatNumber(w.weight) });
      const button = h("button", {
        type: "button",
        class: `cnnviz-channel-bar ${w.weight < 0 ? "is-negative" : "is-positive"}`,
        "data-channel": w.channel,
        "data-key": `channel-${w.channel}`,
        title: label,
        "aria-label": label,
        "aria-pressed": "false",
      });
      const fill = h("span", { class: "cnnviz-channel-fill" });
      const share = (Math.abs(w.weight) / maxAbs) * (signed ? 50 : 100);
      fill.style.height = `${Math.max(1, share).toFixed(1)}%`;
      button.append(fill);
      return button;
    });
    replaceKeepingFocus(bars, buttons);
    const total = data.channels ?? weights.length;
    setAttrs(bars, { "aria-label": t(lang, "channelWeights", { n: weights.length, total }) });
    this.#strip.replaceChildren(
      h(
        "div",
        { class: "cnnviz-subheading" },
        t(lang, "channelWeights", { n: weights.length, total }),
      ),
      bars,
    );
  }

  #syncStrip(channel: number): void {
    for (const bar of this.#strip.querySelectorAll<HTMLElement>("[data-channel]")) {
      bar.setAttribute("aria-pressed", Number(bar.dataset.channel) === channel ? "true" : "false");
    }
  }

  #onChannelClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const channel = Number(target?.closest<HTMLElement>("[data-channel]")?.dataset.channel);
    if (!Number.isInteger(channel) || !this.#ctx) return;
    this.#ctx.set("channel", channel === this.#ctx.traits.channel ? -1 : channel);
  }

  #syncLinked(ctx: ViewContext): void {
    const channel = ctx.traits.channel;
    const result = this.#shown;
    const map = result ? imageByRole(result, "feature_map") : undefined;
    const answered = result?.options.channel === channel;
    const ready = answered && map !== undefined;
    const show = channel >= 0 && result !== null && (ready || !answered);
    const signature = JSON.stringify([show, ready, channel, ctx.lang, result?.id]);
    if (signature === this.#linkedSignature) return;
    this.#linkedSignature = signature;
    this.#linkedMap = null;
    this.#linked.hidden = !show;
    if (!show) {
      this.#linked.replaceChildren();
      return;
    }
    const { lang } = ctx;
    const weight = this.#data?.channelWeights.find((w) => w.channel === channel);
    const title = [t(lang, "featureMapChannel", { n: channel })];
    if (weight) title.push(t(lang, "channelWeight", { weight: formatNumber(weight.weight) }));
    const head = h("div", { class: "cnnviz-linked-head" });
    head.append(
      h("span", { class: "cnnviz-subheading" }, title.join(" · ")),
      iconButton("×", t(lang, "close"), "close-linked"),
    );
    if (!ready || !result || !map) {
      this.#linked.replaceChildren(head, pendingNote(lang));
      return;
    }
    const img = h("img", {
      class: "cnnviz-image",
      src: this.#urls.url(result, map.index),
      alt: t(lang, "featureMapAlt", { n: channel }),
      draggable: "false",
      "data-role": "feature-map",
    });
    img.addEventListener("load", () => this.fit(this.#width));
    this.#linkedMap = { img, meta: map.meta };
    this.#linked.replaceChildren(head, img);
  }

  #syncVisibility(): void {
    const empty = this.#shown === null;
    this.#row.hidden = empty;
    this.#strip.hidden = empty || this.#strip.childElementCount === 0;
  }
}

/** Saliency: the image and its saliency map side by side, SmoothGrad, class. */
export class SaliencyView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  readonly #smooth: HTMLInputElement;
  readonly #smoothControl: HTMLElement;
  readonly #classes: ClassControls;
  readonly #row: HTMLElement;
  readonly #urls = new ResultUrls();
  #images: Placed[] = [];
  #ctx: ViewContext | null = null;
  #shown: StoredResult | null = null;
  #data: ExplainData | null = null;
  #builtLang: Lang | null = null;
  #width = 0;

  constructor(signal: AbortSignal) {
    this.#classes = new ClassControls(signal);
    this.#smooth = h("input", { type: "checkbox", "data-role": "smoothgrad" });
    this.#smoothControl = labelled("", this.#smooth, "is-check");
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(this.#smoothControl, this.#classes.pickerControl);
    this.content = h("div", {
      class: "cnnviz-view cnnviz-explain",
      "data-view-body": "saliency",
    });
    this.#row = h("div", { class: "cnnviz-explain-row" });
    this.content.append(this.#row);
    this.#smooth.addEventListener("change", () => this.#ctx?.set("smooth", this.#smooth.checked), {
      signal,
    });
    this.#row.hidden = true;
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    const { lang } = ctx;
    if (result && (result !== this.#shown || lang !== this.#builtLang)) {
      this.#shown = result;
      this.#builtLang = lang;
      this.#data = readExplainData(result.data);
      this.#build(result, this.#data, lang);
    }
    setLabel(this.#smoothControl, t(lang, "smoothgrad"));
    this.#smoothControl.title = t(lang, "smoothgradHint");
    this.#smooth.checked = ctx.traits.smooth;
    this.#classes.sync(ctx, this.#data);
    this.#row.hidden = this.#shown === null;
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    if (width <= 0 || this.#images.length === 0) return;
    const side = Math.min(EXPLAIN_SIDE, (width - GAP) / 2);
    const ref = this.#images[0];
    if (!ref) return;
    const fit = explainFit(ref.meta, side);
    this.#images.forEach((p, i) => place(p.img, i === 0 ? fit : { ...fit, smooth: true }));
  }

  clear(): void {
    this.#urls.revoke();
    this.#shown = null;
    this.#data = null;
    this.#images = [];
    this.#builtLang = null;
    this.#row.replaceChildren();
    this.#row.hidden = true;
  }

  destroy(): void {
    this.clear();
  }

  #build(result: StoredResult, data: ExplainData, lang: Lang): void {
    this.#images = [];
    const figures: HTMLElement[] = [];
    const parts: [string, string, string][] = [
      ["image", t(lang, "inputImage"), t(lang, "inputImage")],
      ["heatmap", t(lang, "saliencyMap"), t(lang, "saliencyAlt", { name: data.className })],
    ];
    for (const [role, caption, alt] of parts) {
      const found = imageByRole(result, role);
      if (!found) continue;
      const img = h("img", {
        class: "cnnviz-image",
        src: this.#urls.url(result, found.index),
        alt,
        draggable: "false",
        "data-role": role,
        width: found.meta.width || null,
        height: found.meta.height || null,
      });
      img.addEventListener("load", () => this.fit(this.#width));
      this.#images.push({ img, meta: found.meta });
      const figure = h("figure", { class: "cnnviz-explain-figure" });
      figure.append(img, h("figcaption", { class: "cnnviz-muted" }, caption));
      figures.push(figure);
    }
    this.#classes.show(data, lang);
    this.#row.replaceChildren(...figures, this.#classes.predictions);
  }
}

/** The image's size on screen; the heatmap is drawn at the same size. */
function explainFit(meta: ImageMeta, side: number): Fit {
  if (meta.kind === "heatmap")
    return smoothFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
  return imageFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
}
