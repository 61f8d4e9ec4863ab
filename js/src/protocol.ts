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

export interface ImageMeta {
  kind: "mosaic" | "strip" | "image";
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
  caption: string;
  warnings: string[];
}

export interface ErrorMessage extends Addressed {
  type: typeof ERROR;
  message: string;
}

export type KernelMessage = PendingMessage | ResultMessage | ErrorMessage;

export interface RefreshMessage {
  type: typeof REFRESH;
}

/** `snapshot`: `{}` or the latest final result message plus its PNG. */
export type Snapshot = Partial<ResultMessage> & { png?: Bytes };

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
  snapshot: Snapshot;
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

/** The image metadata with defaults filled, so a partial dict from an older kernel still draws. */
export function readImageMeta(raw: unknown): ImageMeta {
  const m = isObject(raw) ? raw : {};
  const num = (key: string, fallback: number): number => {
    const v = m[key];
    return typeof v === "number" && Number.isFinite(v) ? v : fallback;
  };
  const kind = m.kind === "mosaic" || m.kind === "strip" ? m.kind : "image";
  const trueShape = Array.isArray(m.true_shape)
    ? m.true_shape.filter((v): v is number => typeof v === "number")
    : [];
  return {
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
    case RESULT:
      return {
        type: RESULT,
        ...base,
        // A kernel that does not stream sends one message; treat a missing flag as final.
        final: raw.final !== false,
        image: readImageMeta(raw.image),
        caption: typeof raw.caption === "string" ? raw.caption : "",
        warnings: readWarnings(raw.warnings),
      };
    case ERROR:
      return { type: ERROR, ...base, message: String(raw.message ?? "") };
    default:
      return null;
  }
}
