// What every tab's renderer shares: the traits it reads and sets, image URLs, sizing.

import { h, pngUrl, revokeUrl, setAttrs } from "./dom";
import type { Fit } from "./fit";
import { t } from "./i18n";
import type { Lang, SaliencyMethod } from "./protocol";
import type { StoredResult } from "./state";

/** The options a tab shows and changes (synced traits). */
export interface ViewTraits {
  class_names: string[];
  class_index: number;
  cam_method: string;
  saliency_method: SaliencyMethod;
  sanity: boolean;
  in_channel: number;
  rgb: boolean;
  channel: number;
  filter_count: number;
}

export type SettableTrait = keyof ViewTraits;

/** Client-side settings that outlive one result (and one tab). */
export interface ViewPrefs {
  opacity: number;
}

export interface ViewContext {
  lang: Lang;
  layer: string;
  traits: ViewTraits;
  prefs: ViewPrefs;
  set: <K extends Exclude<SettableTrait, "class_names">>(name: K, value: ViewTraits[K]) => void;
}

/**
 * One tab's drawing. `controls` sit above the error box (they stay usable when the
 * kernel answers with an error); `content` is the picture area, dimmed while loading.
 */
export interface ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  /** The result on screen, or null. */
  readonly shown: StoredResult | null;
  /**
   * True for a tab that shows its own progress while its result is unfinished (`final:
   * false`): the panel puts no "Computing…" overlay over that result then.
   */
  readonly ownsProgress?: boolean;
  /** Draws `result`; undefined keeps what is on screen (dimmed by the panel) but syncs controls. */
  update(result: StoredResult | undefined, ctx: ViewContext): void;
  /** Sizes pictures for a content box `width` px wide. */
  fit(width: number): void;
  /** Drops the picture (error, no layer); controls stay. */
  clear(): void;
  destroy(): void;
}

/** Object URLs of one result's PNGs, made on first use and revoked together. */
export class ResultUrls {
  #result: StoredResult | null = null;
  #urls = new Map<number, string>();

  url(result: StoredResult, index: number): string | null {
    if (result !== this.#result) {
      this.revoke();
      this.#result = result;
    }
    const png = result.pngs[index];
    if (!png) return null;
    let url = this.#urls.get(index);
    if (url === undefined) {
      url = pngUrl(png);
      this.#urls.set(index, url);
    }
    return url;
  }

  revoke(): void {
    for (const url of this.#urls.values()) revokeUrl(url);
    this.#urls.clear();
    this.#result = null;
  }
}

/** Sets an image's display size from a fit; pixel data keeps hard edges. */
export function place(img: HTMLElement, fit: Fit): void {
  // Height follows from the width and the image's aspect ratio (its width/height attributes).
  img.style.width = `${fit.width}px`;
  img.classList.toggle("is-smooth", fit.smooth);
  img.dataset.scale = String(Number(fit.scale.toFixed(4)));
}

/** The scale an image is drawn at: measured on screen, else what `place` set, else 1. */
export function drawnScale(img: HTMLElement, naturalWidth: number): number {
  const measured = img.getBoundingClientRect().width;
  if (measured > 0 && naturalWidth > 0) return measured / naturalWidth;
  const placed = Number(img.dataset.scale);
  return placed > 0 ? placed : 1;
}

/** A labelled form control in a toolbar. */
export function labelled(text: string, control: HTMLElement, extra: string = ""): HTMLLabelElement {
  const label = h("label", { class: `cnnviz-control ${extra}`.trim() });
  label.append(h("span", { class: "cnnviz-control-label" }, text), control);
  return label;
}

/** The text of a `labelled` control, changed only when it differs. */
export function setLabel(control: HTMLElement, text: string): void {
  const label = control.querySelector(".cnnviz-control-label");
  if (label && label.textContent !== text) label.textContent = text;
}

/** A small square button with a symbol and a spoken/hover label. */
export function iconButton(symbol: string, label: string, role: string): HTMLButtonElement {
  const button = h(
    "button",
    { type: "button", class: "cnnviz-icon-button", "data-role": role, title: label },
    symbol,
  );
  setAttrs(button, { "aria-label": label });
  return button;
}

/** Replaces a <select>'s options when `signature` changed; keeps `value` selected. */
export function fillSelect(
  select: HTMLSelectElement,
  options: readonly (readonly [string, string])[],
  value: string,
): void {
  const signature = JSON.stringify(options);
  if (select.dataset.signature !== signature) {
    select.replaceChildren(...options.map(([v, text]) => h("option", { value: v }, text)));
    select.dataset.signature = signature;
  }
  if (select.value !== value) select.value = value;
}

/**
 * Children of `box` replaced, keeping keyboard focus on the element with the same
 * `data-key` when the focused one was among them (a rebuilt list must not drop focus).
 */
export function replaceKeepingFocus(box: HTMLElement, children: HTMLElement[]): void {
  const active = document.activeElement;
  const key =
    active instanceof HTMLElement && box.contains(active) ? active.dataset.key : undefined;
  box.replaceChildren(...children);
  if (key === undefined) return;
  const again = [...box.querySelectorAll<HTMLElement>("[data-key]")].find(
    (el) => el.dataset.key === key,
  );
  again?.focus({ preventScroll: true });
}

/** Black or white text, whichever reads better on the `#rrggbb` background. */
export function textOn(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const channel = (shift: number): number => {
    const c = ((n >> shift) & 255) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0);
  // The luminance where black and white text have equal contrast.
  return luminance > 0.179 ? "#000" : "#fff";
}

/** The loading line a linked view shows while its numbers are being computed. */
export function pendingNote(lang: Lang): HTMLElement {
  const note = h("div", { class: "cnnviz-pending", role: "status" });
  note.append(
    h("span", { class: "cnnviz-spinner", "aria-hidden": "true" }),
    h("span", {}, t(lang, "loading")),
  );
  return note;
}
