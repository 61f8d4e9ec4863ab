import { describe, expect, it } from "vitest";
import { imageFit, MAX_HEIGHT, pixelFit, smoothFit, tileAt, tileBox } from "./fit";

const GRID = { rows: 2, cols: 16, tile_width: 30, tile_height: 30, gap: 1, count: 32 };

describe("pixelFit", () => {
  it("zooms by the largest whole number that fits the width", () => {
    expect(pixelFit(215, 107, 700)).toMatchObject({ scale: 3, width: 645, smooth: false });
    expect(pixelFit(95, 47, 700)).toMatchObject({ scale: 7, width: 665 });
  });

  it("is capped by the maximum height", () => {
    // 8 x 8 tiles of 26 px: 215 px square; 480 / 215 = 2.2 -> 2x even with room in width.
    const fit = pixelFit(215, 215, 2000);
    expect(fit.scale).toBe(2);
    expect(fit.height).toBeLessThanOrEqual(MAX_HEIGHT);
  });

  it("never uses a fractional zoom above 1x", () => {
    expect(pixelFit(495, 61, 700)).toMatchObject({ scale: 1, width: 495, smooth: false });
  });

  it("scales smoothly below 1x when even 1x does not fit", () => {
    const fit = pixelFit(495, 61, 380);
    expect(fit.smooth).toBe(true);
    expect(fit.width).toBe(380);
    expect(fit.scale).toBeCloseTo(380 / 495);
  });
});

describe("imageFit and smoothFit", () => {
  it("draws small inputs as pixels and photos smoothly", () => {
    expect(imageFit(28, 28, 320, 320, 16)).toMatchObject({ scale: 11, width: 308, smooth: false });
    expect(imageFit(224, 224, 320, 320, 16)).toMatchObject({ width: 320, smooth: true });
    expect(smoothFit(28, 28, 300, 300, 16).width).toBe(300);
  });
});

describe("tileAt", () => {
  it("finds the tile under a point at 1x", () => {
    expect(tileAt(GRID, 0, 0, 1)).toBe(0);
    expect(tileAt(GRID, 3 * 31 + 5, 5, 1)).toBe(3);
    expect(tileAt(GRID, 5, 31 + 5, 1)).toBe(16);
    expect(tileAt(GRID, 15 * 31 + 29, 31 + 29, 1)).toBe(31);
  });

  it("divides by the display scale", () => {
    // Tile 19 (row 1, col 3) drawn at 2x starts at (186, 62).
    expect(tileAt(GRID, 186 + 10, 62 + 10, 2)).toBe(19);
    expect(tileAt(GRID, (3 * 31 + 15) * 0.5, 15 * 0.5, 0.5)).toBe(3);
  });

  it("returns null on gaps, outside the grid and past the last tile", () => {
    expect(tileAt(GRID, 30.5, 5, 1)).toBeNull();
    expect(tileAt(GRID, -1, 5, 1)).toBeNull();
    expect(tileAt(GRID, 5, 2 * 31 + 5, 1)).toBeNull();
    expect(tileAt({ ...GRID, count: 20 }, 5 * 31 + 5, 31 + 5, 1)).toBeNull();
  });

  it("places the marker box where the tile is drawn", () => {
    expect(tileBox(GRID, 19, 2)).toEqual({ left: 186, top: 62, width: 60, height: 60 });
    expect(tileBox(GRID, 40, 1)).toBeNull();
  });
});
