// Examples: the dataset images that excite the selected channel most, with the channel's map
// over each, streamed while the kernel scans; a channel picker (the linked `channel` trait).

import { ActivationsView } from "./activationsView";
import { h } from "./dom";
import type { Lang } from "./protocol";
import type { StoredResult } from "./state";
import type { ResultView, ViewContext } from "./viewCommon";

const STRINGS: Record<Lang, Record<string, string>> = {
  en: {
    channel: "Channel",
    previous: "Previous channel",
    next: "Next channel",
    scanning: "scanning… {done} images so far",
    scanningOf: "scanning… {done} of {total} images",
    scanned: "{done} images scanned",
    value: "#{index} · {value}",
  },
  ko: {
    channel: "채널",
    previous: "이전 채널",
    next: "다음 채널",
    scanning: "찾는 중… 지금까지 이미지 {done}개",
    scanningOf: "찾는 중… 이미지 {total}개 중 {done}개",
    scanned: "이미지 {done}개를 살펴봄",
    value: "#{index} · {value}",
  },
};

function say(lang: Lang, key: string, params: Record<string, string | number> = {}): string {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === "number") : [];
}

export class ExamplesView implements ResultView {
  readonly controls: HTMLElement;
  readonly #grid = new ActivationsView("examples");
  readonly #picker: HTMLInputElement;
  readonly #label: HTMLElement;
  readonly #previous: HTMLButtonElement;
  readonly #next: HTMLButtonElement;
  readonly #progress: HTMLElement;
  readonly #values: HTMLOListElement;
  readonly #content: HTMLElement;
  #ctx: ViewContext | null = null;
  #channels = 0;

  constructor(signal: AbortSignal) {
    this.#picker = h("input", {
      type: "number",
      min: "0",
      step: "1",
      class: "cnnviz-channel-picker",
      "data-role": "channel-picker",
    });
    this.#label = h("label", { class: "cnnviz-control" });
    this.#previous = h("button", { type: "button", "data-role": "channel-previous" });
    this.#next = h("button", { type: "button", "data-role": "channel-next" });
    this.#previous.textContent = "‹";
    this.#next.textContent = "›";
    this.#progress = h("span", { class: "cnnviz-progress", "data-role": "progress" });
    const choose = (channel: number): void => {
      const ctx = this.#ctx;
      if (!ctx || !Number.isInteger(channel) || channel < 0) return;
      if (this.#channels > 0 && channel >= this.#channels) return;
      ctx.set("channel", channel);
    };
    this.#picker.addEventListener("change", () => choose(Number(this.#picker.value)), { signal });
    this.#previous.addEventListener("click", () => choose(this.#current() - 1), { signal });
    this.#next.addEventListener("click", () => choose(this.#current() + 1), { signal });
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(this.#label, this.#previous, this.#picker, this.#next, this.#progress);
    this.#values = h("ol", { class: "cnnviz-example-values", "data-role": "example-values" });
    this.#content = h("div", { class: "cnnviz-examples" });
    this.#content.append(this.#grid.content, this.#values);
  }

  #current(): number {
    return Math.max(0, this.#ctx?.traits.channel ?? 0);
  }

  get content(): HTMLElement {
    return this.#content;
  }

  get shown(): StoredResult | null {
    return this.#grid.shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    this.#label.textContent = say(ctx.lang, "channel");
    this.#label.append(this.#picker);
    this.#previous.title = say(ctx.lang, "previous");
    this.#next.title = say(ctx.lang, "next");
    this.#picker.value = String(this.#current());
    this.#grid.update(result, ctx);
    const shown = result ?? this.#grid.shown;
    if (!shown) return;
    const data = shown.data;
    if (typeof data["channels"] === "number") {
      this.#channels = data["channels"];
      this.#picker.max = String(this.#channels - 1);
    }
    const done = typeof data["done"] === "number" ? data["done"] : 0;
    const total = typeof data["total"] === "number" ? data["total"] : null;
    const counts = { done: done.toLocaleString(), total: (total ?? 0).toLocaleString() };
    this.#progress.textContent = shown.final
      ? say(ctx.lang, "scanned", counts)
      : say(ctx.lang, total === null ? "scanning" : "scanningOf", counts);
    const indices = numbers(data["indices"]);
    const values = numbers(data["values"]);
    this.#values.replaceChildren(
      ...indices.map((index, i) => {
        const item = h("li");
        const value = values[i];
        item.textContent = say(ctx.lang, "value", {
          index,
          value: value === undefined ? "?" : value.toPrecision(3),
        });
        return item;
      }),
    );
  }

  fit(width: number): void {
    this.#grid.fit(width);
  }

  clear(): void {
    this.#grid.clear();
    this.#progress.textContent = "";
    this.#values.replaceChildren();
  }

  destroy(): void {
    this.#grid.destroy();
  }
}
