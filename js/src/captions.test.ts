import { describe, expect, it } from "vitest";

import { captionFor, warningsFor } from "./captions";
import type { ImageMeta } from "./protocol";
import type { StoredResult } from "./state";

function stored(image: Partial<ImageMeta>, data: Record<string, unknown> = {}): StoredResult {
  const meta: ImageMeta = {
    role: "main",
    kind: "mosaic",
    width: 1,
    height: 1,
    rows: 1,
    cols: 1,
    tile_width: 1,
    tile_height: 1,
    gap: 0,
    channels: 1,
    true_shape: [],
    downsample: 1,
    ...image,
  };
  const png = new Uint8Array([1]);
  return {
    id: 1,
    final: true,
    image: meta,
    png,
    images: [meta],
    pngs: [png],
    caption: "kernel caption",
    warnings: [],
    warningCodes: [],
    options: { in_channel: 2 },
    data,
  };
}

describe("captionFor", () => {
  it("keeps the kernel's caption in English", () => {
    expect(captionFor(stored({ true_shape: [26, 26, 32], channels: 32 }), "en")).toBe(
      "kernel caption",
    );
  });

  it("rebuilds captions in Korean from the numbers", () => {
    const mosaic = stored({
      true_shape: [224, 224, 64],
      channels: 64,
      downsample: 2,
      tile_width: 112,
      tile_height: 112,
    });
    expect(captionFor(mosaic, "ko")).toBe("채널 64개 · 224 × 224 (타일 112 × 112로 축소, 1/2)");
    const kernels = stored({
      kind: "kernels",
      true_shape: [3, 3, 32, 64],
      channels: 64,
      tiles: "filters",
      in_channels: 32,
    });
    expect(captionFor(kernels, "ko")).toBe("필터 64개 · 3 × 3 · 입력 채널 2 / 32");
    const cam = stored({ kind: "heatmap" }, { method: "gradcam", class_name: "<b>cat</b>" });
    expect(captionFor(cam, "ko")).toBe("gradcam · 클래스 <b>cat</b>");
    const patterns = stored({ kind: "patterns", channels: 16, step: 12, steps: 30 });
    expect(captionFor(patterns, "ko")).toBe("필터 16개 · 30단계 중 12단계");
  });

  it("falls back to the kernel's caption when it cannot rebuild one", () => {
    expect(captionFor(stored({ kind: "image" }), "ko")).toBe("kernel caption");
    expect(captionFor(null, "ko")).toBe("");
  });
});

describe("warningsFor", () => {
  it("says the kernel's warnings in Korean from their codes, English as sent", () => {
    const result = {
      ...stored({}),
      warnings: ["3 of 64 channels are constant (drawn flat)", "12 NaN values", "custom"],
      warningCodes: [{ code: "constant_channels", n: 3, of: 64 }, { code: "nan", n: 12 }, null],
    };
    expect(warningsFor(result, "en")).toEqual(result.warnings);
    expect(warningsFor(result, "ko")).toEqual([
      "채널 64개 중 3개가 상수 (평평하게 표시)",
      "NaN 값 12개 (자홍색으로 표시)",
      "custom",
    ]);
  });
});
