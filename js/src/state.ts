// Request/result bookkeeping, free of DOM so it can be tested on its own.
// One ResultStore lives per model (created in `initialize`), and every view of
// that model reads from it, so a view opened late shows what is already known.

import {
  ERROR,
  type ImageMeta,
  type KernelMessage,
  type MessageCode,
  PENDING,
  parseKernelMessage,
  parseRejected,
  readImages,
  readMessageCode,
  readRecord,
  readWarningCodes,
  selectionKey,
  type RejectedMessage,
  type Snapshot,
  toBytes,
} from "./protocol";

/** A decoded result ready to draw: what a result message or the snapshot carries. */
export interface StoredResult {
  id: number;
  final: boolean;
  /** The first image and its PNG (what a one-image view draws). */
  image: ImageMeta;
  png: Uint8Array;
  /** Every image that came with its PNG, in buffer order; `pngs[i]` belongs to `images[i]`. */
  images: ImageMeta[];
  pngs: Uint8Array[];
  caption: string;
  warnings: string[];
  warningCodes: (Record<string, unknown> | null)[];
  options: Record<string, unknown>;
  data: Record<string, unknown>;
}

/** Images paired with their bytes; an image whose buffer is missing is left out. */
function pairImages(
  metas: readonly ImageMeta[],
  buffers: readonly unknown[],
): { images: ImageMeta[]; pngs: Uint8Array[] } | null {
  const images: ImageMeta[] = [];
  const pngs: Uint8Array[] = [];
  metas.forEach((meta, i) => {
    const png = toBytes(buffers[i]);
    if (png === null || (i > 0 && png.byteLength === 0)) return;
    images.push(meta);
    pngs.push(png);
  });
  // The first image is the one every view needs: without it there is nothing to draw.
  if (images[0] !== metas[0]) return null;
  return { images, pngs };
}

/** The image for `role`, with its bytes. */
export function imageByRole(
  result: StoredResult,
  role: string,
): { meta: ImageMeta; png: Uint8Array; index: number } | undefined {
  const index = result.images.findIndex((m) => m.role === role);
  const png = result.pngs[index];
  const meta = result.images[index];
  return meta && png ? { meta, png, index } : undefined;
}

export type EntryStatus = "pending" | "partial" | "ready" | "error";

/** What is known about one selection key. */
export interface Entry {
  /** Newest request id seen for this key (pending, result or error). */
  id: number;
  status: EntryStatus;
  /** Newest image for this key; kept while a newer request is pending so it can be shown dimmed. */
  result?: StoredResult;
  error?: string;
  /** The error's code and values, to say it in another language than English. */
  errorCode?: MessageCode;
  /** Why the browser itself turned the answer into an error; the panel words it. */
  reason?: ErrorReason;
}

/** Errors found in the browser rather than sent by the kernel. */
export type ErrorReason = "noImage";

export type PanelState = "loading" | "ready" | "error";

/** What the result panel should show for the current selection. */
export interface Display {
  state: PanelState;
  result?: StoredResult;
  /** The image belongs to an older request for this key (or is unfinished): draw it dimmed. */
  stale: boolean;
  message?: string;
  /** The error's code and values (see `errorText`). */
  code?: MessageCode;
  reason?: ErrorReason;
}

type Listener = (key: string) => void;

export const MAX_RESULTS = 32;
// Ids are tiny, so newest-id bookkeeping outlives the images: an evicted key
// must still refuse a late, older result.
const MAX_IDS = 1024;
/** The key listeners are called with when the notice (a refused value) changes. */
export const NOTICE = "\u0000notice";

export class ResultStore {
  readonly #entries = new Map<string, Entry>();
  readonly #newestIds = new Map<string, number>();
  readonly #listeners = new Set<Listener>();
  readonly #refreshed = new Set<string>();
  readonly #maxResults: number;
  #notice: RejectedMessage | null = null;

  constructor(maxResults = MAX_RESULTS) {
    this.#maxResults = maxResults;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Entry | undefined {
    return this.#entries.get(key);
  }

  /**
   * True the first time a view asks to refresh `key` before the kernel has said
   * anything about it: views rendered together then send one refresh, not one each.
   */
  claimRefresh(key: string): boolean {
    if (this.#entries.has(key) || this.#refreshed.has(key)) return false;
    this.#refreshed.add(key);
    return true;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The kernel's last word on a refused trait value (`rejectedText` words it), or null. */
  get notice(): RejectedMessage | null {
    return this.#notice;
  }

  clearNotice(): void {
    if (this.#notice === null) return;
    this.#notice = null;
    for (const listener of this.#listeners) listener(NOTICE);
  }

  /** Takes a raw `msg:custom` payload; returns whether it changed the store. */
  receive(raw: unknown, buffers: readonly unknown[] = []): boolean {
    const rejected = parseRejected(raw);
    if (rejected !== null) {
      this.#notice = rejected;
      for (const listener of this.#listeners) listener(NOTICE);
      return true;
    }
    const msg = parseKernelMessage(raw);
    if (msg === null) return false;
    const key = selectionKey(msg.layer, msg.view, msg.sample);
    const next = this.#apply(this.#entries.get(key), msg, buffers);
    if (next === null) return false;
    this.#put(key, next);
    for (const listener of this.#listeners) listener(key);
    return true;
  }

  #apply(prev: Entry | undefined, msg: KernelMessage, buffers: readonly unknown[]): Entry | null {
    const newest = prev?.id ?? this.#newestIds.get(selectionKey(msg.layer, msg.view, msg.sample));
    if (newest !== undefined && msg.id < newest) return null;
    const sameRequest = newest !== undefined && msg.id === newest;
    if (msg.type === PENDING) {
      // A repeated pending for a request that already answered must not undo the answer.
      if (sameRequest) return null;
      return { id: msg.id, status: "pending", result: prev?.result };
    }
    if (msg.type === ERROR) {
      return { id: msg.id, status: "error", error: msg.message, errorCode: codeOf(msg) };
    }
    if (sameRequest && (prev?.status === "ready" || prev?.status === "error")) return null;
    const paired = pairImages(msg.images, buffers);
    const png = paired?.pngs[0];
    const first = paired?.images[0];
    if (!paired || !png || !first) {
      return { id: msg.id, status: "error", reason: "noImage" };
    }
    const result: StoredResult = {
      id: msg.id,
      final: msg.final,
      image: first,
      png,
      images: paired.images,
      pngs: paired.pngs,
      caption: msg.caption,
      warnings: msg.warnings,
      warningCodes: msg.warning_codes,
      options: msg.options,
      data: msg.data,
    };
    return { id: msg.id, status: msg.final ? "ready" : "partial", result };
  }

  #put(key: string, entry: Entry): void {
    // Delete first so Map order is recency order: the first key is the one to evict.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#newestIds.delete(key);
    this.#newestIds.set(key, entry.id);
    // Once the kernel answers, a later view may ask again if the entry gets evicted.
    this.#refreshed.delete(key);
    evictOldest(this.#entries, this.#maxResults);
    evictOldest(this.#newestIds, MAX_IDS);
  }
}

function codeOf(msg: MessageCode): MessageCode {
  return msg.code === undefined ? {} : { code: msg.code, params: msg.params };
}

function evictOldest<V>(map: Map<string, V>, limit: number): void {
  for (const key of map.keys()) {
    if (map.size <= limit) return;
    map.delete(key);
  }
}

/**
 * The snapshot as an entry when it belongs to `key`. Besides a final result (with
 * `png`) the kernel also leaves an error message there when its first picture
 * failed, and an exported page must show that error rather than load forever.
 */
export function snapshotEntry(snapshot: Snapshot | undefined, key: string): Entry | undefined {
  if (!snapshot || typeof snapshot !== "object") return undefined;
  // The same snapshot gives the same entry object, so views can tell nothing changed
  // (and keep their images instead of decoding them again).
  const cached = snapshotCache.get(snapshot);
  if (cached && cached.key === key) return cached.entry;
  const entry = readSnapshot(snapshot, key);
  snapshotCache.set(snapshot, { key, entry });
  return entry;
}

const snapshotCache = new WeakMap<object, { key: string; entry: Entry | undefined }>();

function readSnapshot(snapshot: Snapshot, key: string): Entry | undefined {
  const { layer, view, sample } = snapshot;
  if (typeof layer !== "string" || typeof view !== "string" || typeof sample !== "number") {
    return undefined;
  }
  if (selectionKey(layer, view, sample) !== key) return undefined;
  const id = typeof snapshot.id === "number" ? snapshot.id : -1;
  const raw: Record<string, unknown> = snapshot;
  if (raw.type === ERROR) {
    return {
      id,
      status: "error",
      error: String(raw.message ?? ""),
      errorCode: readMessageCode(raw),
    };
  }
  const metas = readImages(raw);
  const paired = pairImages(metas, Array.isArray(raw.pngs) ? raw.pngs : []);
  const png = paired?.pngs[0];
  const first = paired?.images[0];
  if (!paired || !png || !first) return undefined;
  const result: StoredResult = {
    id,
    final: true,
    image: first,
    png,
    images: paired.images,
    pngs: paired.pngs,
    caption: typeof snapshot.caption === "string" ? snapshot.caption : "",
    warnings: Array.isArray(snapshot.warnings) ? snapshot.warnings.map(String) : [],
    warningCodes: readWarningCodes(snapshot.warning_codes),
    options: readRecord(raw.options),
    data: readRecord(raw.data),
  };
  return { id, status: "ready", result };
}

/**
 * What the panel shows for `key`: the live entry wins, the snapshot fills in
 * when the kernel has said nothing yet (saved notebook, exported HTML).
 */
export function resolveDisplay(
  live: Entry | undefined,
  snapshot: Snapshot | undefined,
  key: string,
): Display {
  const saved =
    live === undefined || live.result === undefined ? snapshotEntry(snapshot, key) : undefined;
  const entry = live ?? saved;
  switch (entry?.status) {
    case "error":
      return {
        state: "error",
        stale: false,
        message: entry.error,
        code: entry.errorCode,
        reason: entry.reason,
      };
    case "ready":
      return { state: "ready", result: entry.result, stale: false };
    case "partial":
      return { state: "loading", result: entry.result, stale: false };
    case "pending":
      // A newer request is under way: show what there is for this key, dimmed.
      return { state: "loading", result: entry.result ?? saved?.result, stale: true };
    default:
      return { state: "loading", stale: true };
  }
}

/** Whether a newly rendered view must ask the kernel to compute the current selection. */
export function needsRefresh(
  entry: Entry | undefined,
  snapshot: Snapshot | undefined,
  key: string,
): boolean {
  // Any entry means a request for this key is known (pending or answered), and a
  // snapshot for it is an answer too: asking again would only restart the work.
  return entry === undefined && snapshotEntry(snapshot, key) === undefined;
}

/** Adapter for model.on("msg:custom"): keeps the handler's signature in one place. */
export function messageHandler(store: ResultStore): (msg: unknown, buffers?: unknown[]) => void {
  return (msg, buffers) => {
    store.receive(msg, buffers ?? []);
  };
}
