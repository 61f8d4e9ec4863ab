// One thumbnail button per input image; the pressed one is the `sample` trait. Tab enters
// the row once (on the pressed one) and the arrow keys move along it, as in a radio group.

import { h, pngUrl, revokeUrl, setAttrs } from "./dom";
import { t } from "./i18n";
import { type Lang, type SampleInfo, toBytes } from "./protocol";

export interface SamplePickerOptions {
  signal: AbortSignal;
  onSelect: (index: number) => void;
}

export class SamplePicker {
  readonly element: HTMLDivElement;
  readonly #options: SamplePickerOptions;
  #buttons: HTMLButtonElement[] = [];
  #urls: string[] = [];
  #selected = 0;

  constructor(options: SamplePickerOptions) {
    this.#options = options;
    this.element = h("div", {
      class: "cnnviz-samples",
      "data-role": "sample",
      role: "group",
      // The arrow keys pressed here are the picker's, not JupyterLab's notebook shortcuts.
      "data-lm-suppress-shortcuts": "true",
    });
    this.element.addEventListener("click", (e) => this.#onClick(e), { signal: options.signal });
    this.element.addEventListener("keydown", (e) => this.#onKey(e), { signal: options.signal });
  }

  setSamples(samples: readonly SampleInfo[], lang: Lang): void {
    this.#revoke();
    const list = Array.isArray(samples) ? samples : [];
    setAttrs(this.element, { "aria-label": t(lang, "samplesLabel") });
    this.#buttons = list.map((sample, index) => {
      const caption = typeof sample?.caption === "string" ? sample.caption : "";
      const label = caption || t(lang, "sampleN", { n: index + 1 });
      const button = h("button", {
        type: "button",
        class: "cnnviz-sample",
        "data-index": index,
        title: label,
        "aria-label": label,
        "aria-pressed": "false",
      });
      const png = toBytes(sample?.thumbnail);
      if (png !== null && png.byteLength > 0) {
        const url = pngUrl(png);
        this.#urls.push(url);
        button.append(h("img", { src: url, alt: "", draggable: "false" }));
      } else {
        // Without a thumbnail the button still needs something to click.
        button.append(h("span", { class: "cnnviz-sample-index" }, String(index + 1)));
      }
      if (caption) button.append(h("span", { class: "cnnviz-sample-caption" }, caption));
      return button;
    });
    this.element.replaceChildren(...this.#buttons);
    this.element.hidden = this.#buttons.length === 0;
    this.setSelected(this.#selected);
  }

  setSelected(index: number): void {
    this.#selected = index;
    const known = index >= 0 && index < this.#buttons.length;
    this.#buttons.forEach((button, i) => {
      // Roving tabindex: one tab stop for the whole row, however many samples there are.
      setAttrs(button, {
        "aria-pressed": i === index ? "true" : "false",
        tabindex: i === index || (!known && i === 0) ? 0 : -1,
      });
    });
  }

  destroy(): void {
    this.#revoke();
  }

  #revoke(): void {
    for (const url of this.#urls) revokeUrl(url);
    this.#urls = [];
  }

  #onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const count = this.#buttons.length;
    const focused = this.#buttons.findIndex((b) => b === document.activeElement);
    const from = focused >= 0 ? focused : this.#selected;
    const moves: Record<string, number> = {
      ArrowLeft: from - 1,
      ArrowUp: from - 1,
      ArrowRight: from + 1,
      ArrowDown: from + 1,
      Home: 0,
      End: count - 1,
    };
    const next = moves[event.key];
    if (next === undefined || count === 0) return;
    event.preventDefault();
    event.stopPropagation();
    const index = Math.min(count - 1, Math.max(0, next));
    this.#buttons[index]?.focus();
    if (index !== this.#selected) this.#options.onSelect(index);
  }

  #onClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const button = target?.closest<HTMLElement>(".cnnviz-sample");
    const index = Number(button?.dataset.index);
    if (!button || !Number.isInteger(index) || index === this.#selected) return;
    this.#options.onSelect(index);
  }
}
