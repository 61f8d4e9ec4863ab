// Message kinds, shared lists and message shapes of the kernel <-> browser protocol.
// The kernel builds every message in cnnviz_widget/_protocol.py; js/src/fixtures/protocol.json
// holds real messages and the kernel's lists, written by tests/test_protocol.py, and
// protocol.test.ts checks this file against it (docs/architecture.md, "The protocol").

export const PENDING = "pending";
export const RESULT = "result";
export const ERROR = "error";
export const REJECTED = "rejected";
export const REFRESH = "refresh";
export const MESSAGE_KINDS = [PENDING, RESULT, ERROR, REJECTED, REFRESH] as const;

export const VIEWS = [
  "activations",
  "weights",
  "gradcam",
  "saliency",
  "filters",
  "examples",
] as const;
export type ViewName = (typeof VIEWS)[number];

export const LAYER_KINDS = [
  "input",
  "conv",
  "dense",
  "pool",
  "activation",
  "norm",
  "reshape",
  "dropout",
  "merge",
  "model",
  "other",
] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];

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

export const IMAGE_KINDS = [
  "mosaic",
  "strip",
  "image",
  "heatmap",
  "kernels",
  "matrix",
  "patterns",
] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];

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
  /** Kernel grids and matrices: the symmetric scale, and the pixels one weight covers. */
  vmin?: number;
  vmax?: number;
  cell?: number;
  cell_height?: number;
  cell_width?: number;
  /** Dense matrices: the (downsampled) matrix drawn, and the factor of each axis. */
  shown_shape?: number[];
  downsample_axes?: number[];
}

interface Addressed {
  id: number;
  layer: string;
  view: string;
  sample: number;
  /** The view options the request was made with (class_index, cam_method, channel, ...). */
  options: Record<string, unknown>;
}

export interface PendingMessage extends Addressed {
  type: typeof PENDING;
}

export interface ResultMessage extends Addressed {
  type: typeof RESULT;
  final: boolean;
  /** One entry per buffer, in buffer order; the first is the one every view draws. */
  images: ImageMeta[];
  caption: string;
  warnings: string[];
  /** Per warning, its code and numbers (null: plain text), for other languages. */
  warning_codes: (Record<string, unknown> | null)[];
  /** View-specific numbers (histogram, predictions, ...); checked where they are read. */
  data: Record<string, unknown>;
}

/**
 * The code and values of a message the kernel raised as a `Message` (`ERROR_CODES` in
 * Python), so it can be said in another language than the English `message`.
 */
export interface MessageCode {
  code?: string;
  params?: Record<string, string | number>;
}

export interface ErrorMessage extends Addressed, MessageCode {
  type: typeof ERROR;
  message: string;
}

/** A trait value set here that the kernel refused; the trait keeps its previous value. */
export interface RejectedMessage extends MessageCode {
  type: typeof REJECTED;
  trait: string;
  value: unknown;
  message: string;
}

export type KernelMessage = PendingMessage | ResultMessage | ErrorMessage;

export interface RefreshMessage {
  type: typeof REFRESH;
}

/** `snapshot`: `{}`, the latest final result message plus its PNGs, or the latest error. */
export type Snapshot = Partial<ResultMessage> & { pngs?: Bytes[] };

export const CAM_METHODS = ["gradcam", "gradcam++", "layercam", "scorecam"] as const;
export type CamMethod = (typeof CAM_METHODS)[number];

export const SALIENCY_METHODS = ["gradients", "smoothgrad", "integrated"] as const;
export type SaliencyMethod = (typeof SALIENCY_METHODS)[number];

/** The traits each view depends on besides layer and sample. */
export const VIEW_OPTIONS = {
  activations: [],
  weights: ["in_channel", "rgb", "channel"],
  gradcam: ["class_index", "cam_method", "channel", "sanity"],
  saliency: ["class_index", "saliency_method"],
  filters: ["filter_count"],
  examples: ["channel"],
} as const satisfies Record<ViewName, readonly string[]>;

/** Every synced trait (the keys of `Traits`), in the kernel's order. */
export const SYNCED_TRAITS = [
  "layers",
  "samples",
  "layer",
  "view",
  "views",
  "sample",
  "lang",
  "model_name",
  "class_names",
  "class_index",
  "cam_method",
  "saliency_method",
  "sanity",
  "in_channel",
  "rgb",
  "channel",
  "filter_count",
  "snapshot",
  "graph",
] as const satisfies readonly (keyof Traits)[];

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
  /** What the Saliency tab draws. */
  saliency_method: SaliencyMethod;
  /** The Grad-CAM tab also draws the map on the untrained copy. */
  sanity: boolean;
  in_channel: number;
  rgb: boolean;
  /** The filter (weights: tile index) or channel (Grad-CAM) of the linked view; -1: none. */
  channel: number;
  /** How many of the layer's filters the Filters tab draws. */
  filter_count: number;
  snapshot: Snapshot;
  /** The model's data flow for the graph view (checked by graphView.ts's reader). */
  graph: Record<string, unknown>;
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

/** `code` and `params` of an error or a refusal; nothing when the message has none. */
export function readMessageCode(raw: Record<string, unknown>): MessageCode {
  if (typeof raw.code !== "string") return {};
  const params: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(readRecord(raw.params))) {
    if (typeof value === "string" || finite(value)) params[name] = value;
  }
  return { code: raw.code, params };
}

/** Selection key of a request: results are stored and matched by it. */
export function selectionKey(layer: string, view: string, sample: number): string {
  return `${layer}|${view}|${sample}`;
}

/** Copy of the bytes in any buffer form; null when `data` holds no bytes. */
export function toBytes(data: unknown): Uint8Array | null {
  // An ArrayBuffer from another realm (an iframe host such as VS Code) fails instanceof.
  if (
    data instanceof ArrayBuffer ||
    Object.prototype.toString.call(data) === "[object ArrayBuffer]"
  ) {
    return new Uint8Array((data as ArrayBuffer).slice(0));
  }
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

const KINDS = new Set<string>(IMAGE_KINDS);

function numbers(raw: unknown): number[] | undefined {
  return Array.isArray(raw) ? raw.filter(finite) : undefined;
}

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

/** The image metadata checked field by field, with safe defaults for a malformed one. */
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
  for (const key of ["vmin", "vmax", "cell", "cell_height", "cell_width"] as const) {
    const v = m[key];
    if (finite(v)) meta[key] = v;
  }
  const shown = numbers(m.shown_shape);
  if (shown) meta.shown_shape = shown;
  const axes = numbers(m.downsample_axes);
  if (axes) meta.downsample_axes = axes;
  return meta;
}

/** `images` of a result (empty when the message has none: nothing to draw). */
export function readImages(raw: Record<string, unknown>): ImageMeta[] {
  if (!Array.isArray(raw.images)) return [];
  return raw.images.map((m, i) => readImageMeta(m, i === 0 ? "main" : `image${i}`));
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
    options: readRecord(raw.options),
  };
  switch (raw.type) {
    case PENDING:
      return { type: PENDING, ...base };
    case RESULT: {
      const images = readImages(raw);
      if (images.length === 0) return null;
      return {
        type: RESULT,
        ...base,
        final: raw.final === true,
        images,
        data: readRecord(raw.data),
        caption: typeof raw.caption === "string" ? raw.caption : "",
        warnings: readWarnings(raw.warnings),
        warning_codes: readWarningCodes(raw.warning_codes),
      };
    }
    case ERROR:
      return {
        type: ERROR,
        ...base,
        message: String(raw.message ?? ""),
        ...readMessageCode(raw),
      };
    default:
      return null;
  }
}

/** A `rejected` message, or null for anything else. */
export function parseRejected(raw: unknown): RejectedMessage | null {
  if (!isObject(raw) || raw.type !== REJECTED || typeof raw.trait !== "string") return null;
  return {
    type: REJECTED,
    trait: raw.trait,
    value: raw.value,
    message: typeof raw.message === "string" ? raw.message : "",
    ...readMessageCode(raw),
  };
}
