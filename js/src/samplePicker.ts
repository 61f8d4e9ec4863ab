// One thumbnail button per input image; the pressed one is the `sample` trait.

import { h, pngUrl, setAttrs } from "./dom";
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
    this.element = h("div", { class: "cnnviz-samples", "data-role": "sample", role: "group" });
    this.element.addEventListener("click", (e) => this.#onClick(e), { signal: options.signal });
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
    this.#buttons.forEach((button, i) => {
      setAttrs(button, { "aria-pressed": i === index ? "true" : "false" });
    });
  }

  destroy(): void {
    this.#revoke();
  }

  #revoke(): void {
    for (const url of this.#urls) URL.revokeObjectURL(url);
    this.#urls = [];
  }

  #onClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const button = target?.closest<HTMLElement>(".cnnviz-sample");
    const index = Number(button?.dataset.index);
    if (!button || !Number.isInteger(index) || index === this.#selected) return;
    this.#options.onSelect(index);
  }
}
