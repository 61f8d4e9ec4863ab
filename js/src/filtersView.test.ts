import { describe, expect, it } from "vitest";

import { FILTER_STEP, FiltersView } from "./filtersView";
import type { StoredResult } from "./state";
import type { ViewContext, ViewTraits } from "./viewCommon";

function result(step: number, final: boolean, channels = 64): StoredResult {
  const image = {
    role: "main",
    kind: "patterns" as const,
    width: 10,
    height: 10,
    rows: 2,
    cols: 8,
    tile_width: 4,
    tile_height: 4,
    gap: 1,
    channels: 16,
    true_shape: [28, 28, 1],
    downsample: 1,
    step,
    steps: 30,
  };
  const png = new Uint8Array([137, 80, 78, 71]);
  return {
    id: step,
    final,
    image,
    png,
    images: [image],
    pngs: [png],
    caption: "16 filters",
    warnings: [],
    warningCodes: [],
    options: { filter_count: 16 },
    data: { channels },
  };
}

function context(
  set: (name: string, value: unknown) => void,
  count = 16,
  lang = "en",
): ViewContext {
  const traits: ViewTraits = {
    class_names: [],
    class_index: -1,
    cam_method: "gradcam",
    saliency_method: "gradients",
    sanity: false,
    in_channel: 0,
    rgb: false,
    channel: -1,
    filter_count: count,
  };
  return {
    lang: lang as "en",
    layer: "conv2d_1",
    traits,
    prefs: { opacity: 0.5 },
    set: set as ViewContext["set"],
  };
}

describe("FiltersView", () => {
  it("shows progress while the ascent runs and offers more filters when it is done", () => {
    const view = new FiltersView(new AbortController().signal);
    const calls: [string, unknown][] = [];
    const ctx = context((name, value) => calls.push([name, value]));
    view.update(result(12, false), ctx);
    const progress = view.controls.querySelector('[data-role="progress"]');
    const more = view.controls.querySelector<HTMLButtonElement>('[data-role="more-filters"]');
    expect(progress?.textContent).toBe("Gradient ascent: step 12 of 30");
    expect(more?.hidden).toBe(true);
    view.update(result(30, true), ctx);
    expect(more?.hidden).toBe(false);
    expect(more?.textContent).toBe(`Show ${FILTER_STEP} more filters`);
    more?.click();
    expect(calls).toEqual([["filter_count", 32]]);
  });

  it("never asks for more filters than the layer has", () => {
    const view = new FiltersView(new AbortController().signal);
    const calls: [string, unknown][] = [];
    view.update(
      result(30, true, 20),
      context((name, value) => calls.push([name, value])),
    );
    const more = view.controls.querySelector<HTMLButtonElement>('[data-role="more-filters"]');
    more?.click();
    expect(calls).toEqual([["filter_count", 20]]);
    view.update(
      result(30, true, 20),
      context(() => undefined, 20),
    );
    expect(more?.disabled).toBe(true);
    expect(more?.textContent).toBe("All 20 filters shown");
  });

  it("speaks Korean", () => {
    const view = new FiltersView(new AbortController().signal);
    view.update(
      result(3, false),
      context(() => undefined, 16, "ko"),
    );
    expect(view.controls.textContent).toContain("경사 상승");
  });
});
