// Message kinds and trait shapes shared with the kernel.
// Keep in sync with cnnviz_widget/_protocol.py.

export const PENDING = "pending";
export const RESULT = "result";
export const ERROR = "error";
export const REFRESH = "refresh";

export const VIEWS = ["activations", "weights", "gradcam", "saliency", "filters"] as const;
export type ViewName = (typeof VIEWS)[number];

export type LayerKind =
  | "input"
  | "conv"
  | "dense"
  | "pool"
  | "activation"
  | "norm"
  | "reshape"
  | "dropout"
  | "merge"
  | "model"
  | "other";

/** One row of `layers`, as `LayerInfo` is serialized by the kernel. */
export interface LayerInfo {
  name: string;
  type: string;
  output_shape: (number | null)[] | null;
  params: number;
  trainable: boolean;
  kind: LayerKind;
  parent: string | null;
}

/** Bytes as they reach the browser: ipywidgets hands buffers over as DataView. */
export type Bytes = DataView | ArrayBuffer | ArrayBufferView;

export interface SampleInfo {
  thumbnail: Bytes | null;
  caption: string;
}

export type ImageKind =
  "mosaic" | "strip" | "image" | "heatmap" | "kernels" | "matrix" | "patterns";

/** The colour scale of a kernel grid: 11 hex colours from vmin to vmax, and 5 tick values. */
export interface Colorbar {
  colors: string[];
  vmin: number;
  vmax: number;
  cmap: string;
  ticks: number[];
}

export interface ImageMeta {
  /** What the picture is in its view ("main", "trained", "baseline", "heatmap", ...). */
  role: string;
  kind: ImageKind;
  width: number;
  height: number;
  rows: number;
  cols: number;
  tile_width: number;
  tile_height: number;
  gap: number;
  channels: number;
  true_shape: number[];
  downsample: number;
  /** Kernel grids: how tiles are laid out ("filters", "rgb", "depthwise", "input_channels"). */
  tiles?: string;
  in_channels?: number;
  /** Filter patterns: the gradient-ascent step drawn, of `steps`. */
  step?: number;
  steps?: number;
  /** Kernel grids: the output channel (feature map) of each tile. */
  tile_output_channel?: number[];
  colorbar?: Colorbar;
}

interface Addressed {
  id: number;
  layer: string;
  view: string;
  sample: number;
}

export interface PendingMessage extends Addressed {
  type: typeof PENDING;
}

export interface ResultMessage extends Addressed {
  type: typeof RESULT;
  final: boolean;
  image: ImageMeta;
  /** One entry per buffer, in buffer order (`image` is the first). */
  images: ImageMeta[];
  caption: string;
  warnings: string[];
  /** Per warning, its code and numbers (null: plain text), for other languages. */
  warning_codes: (Record<string, unknown> | null)[];
  /** The view options the result was computed with (class_index, cam_method, channel, ...). */
  options: Record<string, unknown>;
  /** View-specific numbers (histogram, predictions, ...); checked where they are read. */
  data: Record<string, unknown>;
}

export interface ErrorMessage extends Addressed {
  type: typeof ERROR;
  message: string;
}

export type KernelMessage = PendingMessage | ResultMessage | ErrorMessage;

export interface RefreshMessage {
  type: typeof REFRESH;
}

/** `snapshot`: `{}` or the latest final result message plus its PNGs (`png` is the first). */
export type Snapshot = Partial<ResultMessage> & { png?: Bytes; pngs?: Bytes[] };

export const CAM_METHODS = ["gradcam", "gradcam++", "layercam", "scorecam"] as const;
export type CamMethod = (typeof CAM_METHODS)[number];

export type Lang = "en" | "ko";

/** Synced traits, read with model.get. */
export interface Traits {
  layers: LayerInfo[];
  samples: SampleInfo[];
  layer: string;
  view: string;
  views: string[];
  sample: number;
  lang: Lang;
  model_name: string;
  class_names: string[];
  /** The class Grad-CAM and saliency explain; -1: each sample's top prediction. */
  class_index: number;
  cam_method: CamMethod;
  smooth: boolean;
  in_channel: number;
  rgb: boolean;
  /** The filter (weights: tile index) or channel (Grad-CAM) of the linked view; -1: none. */
  channel: number;
  /** How many of the layer's filters the Filters tab draws. */
  filter_count: number;
  snapshot: Snapshot;
}

/** `warning_codes` of a result: a record or null per warning. */
export function readWarningCodes(value: unknown): (Record<string, unknown> | null)[] {
  if (!Array.isArray(value)) return [];
  return value.map((code) =>
    code && typeof code === "object" && !Array.isArray(code)
      ? (code as Record<string, unknown>)
      : null,
  );
}

/** Selection key of a request: results are stored and matched by it. */
export function selectionKey(layer: string, view: string, sample: number): string {
  return `${layer}|${view}|${sample}`;
}

/** Copy of the bytes in any buffer form; null when `data` holds no bytes. */
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isAddressed(msg: Record<string, unknown>): boolean {
  return (
    typeof msg.id === "number" &&
    typeof msg.layer === "string" &&
    typeof msg.view === "string" &&
    typeof msg.sample === "number"
  );
}

const KINDS = new Set<string>([
  "mosaic",
  "strip",
  "image",
  "heatmap",
  "kernels",
  "matrix",
  "patterns",
]);

function finite(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function readColorbar(raw: unknown): Colorbar | undefined {
  if (!isObject(raw) || !Array.isArray(raw.colors)) return undefined;
  const colors = raw.colors.filter((c): c is string => typeof c === "string");
  if (colors.length === 0 || !finite(raw.vmin) || !finite(raw.vmax)) return undefined;
  return {
    colors,
    vmin: raw.vmin,
    vmax: raw.vmax,
    cmap: typeof raw.cmap === "string" ? raw.cmap : "",
    ticks: Array.isArray(raw.ticks) ? raw.ticks.filter(finite) : [],
  };
}

/** The image metadata with defaults filled, so a partial dict from an older kernel still draws. */
export function readImageMeta(raw: unknown, role = "main"): ImageMeta {
  const m = isObject(raw) ? raw : {};
  const num = (key: string, fallback: number): number => {
    const v = m[key];
    return finite(v) ? v : fallback;
  };
  const kind = typeof m.kind === "string" && KINDS.has(m.kind) ? (m.kind as ImageKind) : "image";
  const trueShape = Array.isArray(m.true_shape)
    ? m.true_shape.filter((v): v is number => typeof v === "number")
    : [];
  const meta: ImageMeta = {
    role: typeof m.role === "string" ? m.role : role,
    kind,
    width: num("width", 0),
    height: num("height", 0),
    rows: num("rows", 1),
    cols: num("cols", 1),
    tile_width: num("tile_width", num("width", 0)),
    tile_height: num("tile_height", num("height", 0)),
    gap: num("gap", 0),
    channels: num("channels", 1),
    true_shape: trueShape,
    downsample: num("downsample", 1),
  };
  if (typeof m.tiles === "string") meta.tiles = m.tiles;
  if (finite(m.in_channels)) meta.in_channels = m.in_channels;
  if (finite(m.step)) meta.step = m.step;
  if (finite(m.steps)) meta.steps = m.steps;
  if (Array.isArray(m.tile_output_channel)) {
    meta.tile_output_channel = m.tile_output_channel.filter(finite);
  }
  const colorbar = readColorbar(m.colorbar);
  if (colorbar) meta.colorbar = colorbar;
  return meta;
}

/** `images` of a result; an older kernel sends only `image`, which then is the one. */
export function readImages(raw: Record<string, unknown>): ImageMeta[] {
  if (Array.isArray(raw.images) && raw.images.length > 0) {
    return raw.images.map((m, i) => readImageMeta(m, i === 0 ? "main" : `image${i}`));
  }
  return [readImageMeta(raw.image)];
}

export function readRecord(raw: unknown): Record<string, unknown> {
  return isObject(raw) && !Array.isArray(raw) ? raw : {};
}

function readWarnings(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.map((w) => String(w)) : [];
}

/**
 * A kernel message checked field by field; null for anything else, because a
 * malformed message must never break the views that are listening.
 */
export function parseKernelMessage(raw: unknown): KernelMessage | null {
  if (!isObject(raw) || !isAddressed(raw)) return null;
  const base: Addressed = {
    id: raw.id as number,
    layer: raw.layer as string,
    view: raw.view as string,
    sample: raw.sample as number,
  };
  switch (raw.type) {
    case PENDING:
      return { type: PENDING, ...base };
    case RESULT: {
      const images = readImages(raw);
      return {
        type: RESULT,
        ...base,
        // A kernel that does not stream sends one message; treat a missing flag as final.
        final: raw.final !== false,
        image: images[0] ?? readImageMeta(raw.image),
        images,
        options: readRecord(raw.options),
        data: readRecord(raw.data),
        caption: typeof raw.caption === "string" ? raw.caption : "",
        warnings: readWarnings(raw.warnings),
        warning_codes: readWarningCodes(raw.warning_codes),
      };
    }
    case ERROR:
      return { type: ERROR, ...base, message: String(raw.message ?? "") };
    default:
      return null;
  }
}
