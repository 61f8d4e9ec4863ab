import { describe, expect, it } from "vitest";
import { formatNumber, formatParams, formatPercent, formatShape } from "./format";
import { t, toLang, viewLabel } from "./i18n";
import { fitWidth, MAX_UPSCALE } from "./panel";

describe("formatShape", () => {
  it("drops the batch axis and joins with ×", () => {
    expect(formatShape([null, 26, 26, 32])).toBe("26 × 26 × 32");
    expect(formatShape([null, 10])).toBe("10");
  });

  it("marks unknown sizes and missing shapes", () => {
    expect(formatShape([null, null, null, 3])).toBe("? × ? × 3");
    expect(formatShape(null)).toBe("—");
    expect(formatShape([null])).toBe("—");
  });
});

describe("formatParams", () => {
  it("groups thousands", () => {
    expect(formatParams(0)).toBe("0");
    expect(formatParams(320)).toBe("320");
    expect(formatParams(14714688)).toBe("14,714,688");
  });
});

describe("i18n", () => {
  it("fills placeholders in both languages", () => {
    expect(t("en", "layerCount", { n: 12 })).toBe("12 layers");
    expect(t("ko", "layerCount", { n: 12 })).toBe("레이어 12개");
  });

  it("labels known views and keeps unknown ones as named", () => {
    expect(viewLabel("en", "activations")).toBe("Feature maps");
    expect(viewLabel("ko", "activations")).toBe("특징 맵");
    expect(viewLabel("ko", "lrp")).toBe("lrp");
  });

  it("falls back to English for an unknown language", () => {
    expect(toLang("ko")).toBe("ko");
    expect(toLang("fr")).toBe("en");
  });
});

describe("fitWidth", () => {
  it("never upscales past the zoom limit", () => {
    expect(fitWidth(28, 1000)).toBe(28 * MAX_UPSCALE);
  });

  it("zooms by whole numbers when it enlarges a lot", () => {
    expect(fitWidth(100, 350)).toBe(300);
  });

  it("stays at 1x between 1x and 2x (no blurry 1.5x) and shrinks what does not fit", () => {
    expect(fitWidth(200, 300)).toBe(200);
    expect(fitWidth(800, 400)).toBe(400);
  });
});

describe("formatNumber and formatPercent", () => {
  it("keeps three significant digits and drops trailing zeros", () => {
    expect(formatNumber(0.30490809)).toBe("0.305");
    expect(formatNumber(-0.1)).toBe("-0.1");
    expect(formatNumber(0)).toBe("0");
    expect(formatNumber(0.00066)).toBe("6.6e-4");
    expect(formatNumber(null)).toBe("—");
    expect(formatNumber(Number.NaN)).toBe("—");
  });

  it("writes probabilities as percentages", () => {
    expect(formatPercent(0.8012)).toBe("80.1%");
    expect(formatPercent(0.0004)).toBe("<0.1%");
    expect(formatPercent(0)).toBe("0.0%");
  });
});
