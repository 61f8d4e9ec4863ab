// Display sizes of pictures and hit-testing of kernel tiles, free of DOM so both can be tested.

/** Feature maps are a few pixels per tile; beyond this zoom they stop being readable. */
export const MAX_UPSCALE = 8;
/** Tallest a picture is drawn, so a big mosaic leaves room for the rest of the panel. */
export const MAX_HEIGHT = 480;
/** Pictures smaller than this (on their longer side) are pixel data, drawn with hard edges. */
export const SMALL_IMAGE = 64;

export interface Fit {
  /** Screen pixels per image pixel. */
  scale: number;
  width: number;
  height: number;
  /** Drawn with smooth interpolation (scaled down, or a heatmap/photo). */
  smooth: boolean;
}

/**
 * The largest whole-number zoom (up to `maxScale`) at which a `width` x `height` picture
 * fits `available` px wide and `maxHeight` tall, so every source pixel is the same size on
 * screen; a picture too big even at 1x is scaled down smoothly instead.
 */
export function pixelFit(
  width: number,
  height: number,
  available: number,
  maxHeight = MAX_HEIGHT,
  maxScale = MAX_UPSCALE,
): Fit {
  if (width <= 0 || height <= 0) return { scale: 1, width, height, smooth: false };
  const room = Math.min(
    available > 0 ? available / width : 1,
    maxHeight > 0 ? maxHeight / height : Infinity,
  );
  if (room >= 1) {
    const scale = Math.max(1, Math.min(Math.floor(maxScale), Math.floor(room)));
    return { scale, width: width * scale, height: height * scale, smooth: false };
  }
  return {
    scale: room,
    width: Math.max(1, Math.floor(width * room)),
    height: Math.max(1, Math.floor(height * room)),
    smooth: true,
  };
}

/** Heatmaps and photos: any scale that fits, up to `maxScale`, drawn smoothly. */
export function smoothFit(
  width: number,
  height: number,
  available: number,
  maxHeight = MAX_HEIGHT,
  maxScale = MAX_UPSCALE,
): Fit {
  if (width <= 0 || height <= 0) return { scale: 1, width, height, smooth: true };
  const scale = Math.min(
    maxScale,
    available > 0 ? available / width : 1,
    maxHeight > 0 ? maxHeight / height : Infinity,
  );
  return {
    scale,
    width: Math.max(1, Math.floor(width * scale)),
    height: Math.max(1, Math.floor(height * scale)),
    smooth: true,
  };
}

/** Photos of real size are drawn smoothly; small pictures are pixel data. */
export function imageFit(
  width: number,
  height: number,
  available: number,
  maxHeight = MAX_HEIGHT,
  maxScale = MAX_UPSCALE,
): Fit {
  return Math.max(width, height) < SMALL_IMAGE
    ? pixelFit(width, height, available, maxHeight, maxScale)
    : smoothFit(width, height, available, maxHeight, maxScale);
}

/** Display width of an image `natural` px wide in a box `available` px wide (no height cap). */
export function fitWidth(natural: number, available: number): number {
  if (natural <= 0 || available <= 0) return natural;
  return pixelFit(natural, 1, available, 0).width;
}

export interface Grid {
  rows: number;
  cols: number;
  tile_width: number;
  tile_height: number;
  gap: number;
  /** Tiles actually drawn (the last row may be short). */
  count: number;
}

/**
 * The tile under a point of a grid image drawn at `scale`, `x`/`y` in screen pixels from
 * the image's top-left corner; null on a gap, outside the grid or past the last tile.
 */
export function tileAt(grid: Grid, x: number, y: number, scale: number): number | null {
  if (!(scale > 0) || grid.tile_width <= 0 || grid.tile_height <= 0) return null;
  const px = x / scale;
  const py = y / scale;
  if (px < 0 || py < 0) return null;
  const stepX = grid.tile_width + grid.gap;
  const stepY = grid.tile_height + grid.gap;
  const col = Math.floor(px / stepX);
  const row = Math.floor(py / stepY);
  if (col >= grid.cols || row >= grid.rows) return null;
  if (px - col * stepX >= grid.tile_width || py - row * stepY >= grid.tile_height) return null;
  const index = row * grid.cols + col;
  return index < grid.count ? index : null;
}

/** Where tile `index` sits on screen, for the marker drawn around the open filter. */
export function tileBox(
  grid: Grid,
  index: number,
  scale: number,
): { left: number; top: number; width: number; height: number } | null {
  if (index < 0 || index >= grid.count || grid.cols <= 0) return null;
  const row = Math.floor(index / grid.cols);
  const col = index % grid.cols;
  return {
    left: col * (grid.tile_width + grid.gap) * scale,
    top: row * (grid.tile_height + grid.gap) * scale,
    width: grid.tile_width * scale,
    height: grid.tile_height * scale,
  };
}
