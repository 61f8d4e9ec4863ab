// The `data` of a result, per view, checked field by field: the kernel's dicts are JSON and
// an odd or missing value must only leave a part of the panel empty, never throw.

type Raw = Record<string, unknown>;

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function int(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) ? value : fallback;
}

function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

function numbers(value: unknown): (number | null)[] {
  return Array.isArray(value) ? value.map(num) : [];
}

const HEX = /^#[0-9a-f]{6}$/i;

/** A colour from the kernel, only if it is a plain #rrggbb (it ends up in a style). */
export function hexColor(value: unknown): string | null {
  return typeof value === "string" && HEX.test(value) ? value : null;
}

// ------------------------------------------------------------------ weights
export interface SeriesStats {
  counts: number[];
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  count: number;
  nonfinite: number;
}

export interface Histogram {
  edges: number[];
  trained: SeriesStats;
  baseline: SeriesStats | null;
}

export interface BiasValues {
  values: (number | null)[];
  count: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

export interface FilterCell {
  /** One number, or three for an RGB filter (R, G, B). */
  values: (number | null)[];
  color: string | null;
}

export interface FilterDetail {
  kind: "kernel" | "column";
  tiles: string;
  filterIndex: number;
  outputChannel: number;
  inChannel: number | null;
  shape: number[];
  /** Rows of cells; a dense column is one row per value. */
  rows: FilterCell[][];
  bias: number | null;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  norm: number | null;
  truncated: boolean;
}

export interface WeightsData {
  kernelShape: number[];
  rgbAvailable: boolean;
  inChannels: number | null;
  histogram: Histogram | null;
  bias: BiasValues | null;
  baselineBias: BiasValues | null;
  filter: FilterDetail | null;
}

function readStats(raw: unknown): SeriesStats | null {
  if (!isObject(raw) || !Array.isArray(raw.counts)) return null;
  return {
    counts: raw.counts.map((c) => num(c) ?? 0),
    mean: num(raw.mean),
    std: num(raw.std),
    min: num(raw.min),
    max: num(raw.max),
    count: int(raw.count, 0),
    nonfinite: int(raw.nonfinite, 0),
  };
}

export function readHistogram(raw: unknown): Histogram | null {
  if (!isObject(raw) || !Array.isArray(raw.edges)) return null;
  const edges = raw.edges.map(num).filter((e): e is number => e !== null);
  const trained = readStats(raw.trained);
  if (edges.length < 2 || !trained) return null;
  return { edges, trained, baseline: readStats(raw.baseline) };
}

function readBias(raw: unknown): BiasValues | null {
  if (!isObject(raw)) return null;
  return {
    values: numbers(raw.values),
    count: int(raw.count, Array.isArray(raw.values) ? raw.values.length : 0),
    mean: num(raw.mean),
    std: num(raw.std),
    min: num(raw.min),
    max: num(raw.max),
  };
}

function readCells(values: unknown, colors: unknown): FilterCell[] {
  if (!Array.isArray(values)) return [];
  const hues = Array.isArray(colors) ? colors : [];
  return values.map((v, i) => ({
    values: Array.isArray(v) ? v.map(num) : [num(v)],
    color: hexColor(hues[i]),
  }));
}

export function readFilter(raw: unknown): FilterDetail | null {
  if (!isObject(raw) || !Array.isArray(raw.values)) return null;
  const kind = raw.kind === "column" ? "column" : "kernel";
  const colors = Array.isArray(raw.colors) ? raw.colors : [];
  const rows =
    kind === "column"
      ? readCells(raw.values, colors).map((cell) => [cell])
      : raw.values.map((row, r) => readCells(row, colors[r]));
  return {
    kind,
    tiles: str(raw.tiles, "filters"),
    filterIndex: int(raw.filter_index, 0),
    outputChannel: int(raw.output_channel, int(raw.filter_index, 0)),
    inChannel: typeof raw.in_channel === "number" ? raw.in_channel : null,
    shape: numbers(raw.shape).filter((d): d is number => d !== null),
    rows,
    bias: num(raw.bias),
    mean: num(raw.mean),
    std: num(raw.std),
    min: num(raw.min),
    max: num(raw.max),
    norm: num(raw.norm),
    truncated: raw.truncated === true,
  };
}

export function readWeightsData(data: Raw): WeightsData {
  return {
    kernelShape: numbers(data.kernel_shape).filter((d): d is number => d !== null),
    rgbAvailable: data.rgb_available === true,
    inChannels: num(data.in_channels),
    histogram: readHistogram(data.histogram),
    bias: readBias(data.bias),
    baselineBias: readBias(data.baseline_bias),
    filter: readFilter(data.filter),
  };
}

// ------------------------------------------------------- Grad-CAM, saliency
export interface Prediction {
  index: number;
  name: string;
  probability: number;
}

export interface ChannelWeight {
  channel: number;
  weight: number;
}

export interface ExplainData {
  predictions: Prediction[];
  classIndex: number | null;
  className: string;
  nClasses: number | null;
  method: string;
  channelWeights: ChannelWeight[];
  channels: number | null;
  /** Grad-CAM: the deletion/insertion read-out; null until it is measured (or if unreadable). */
  faithfulness: Faithfulness | null;
  /** Grad-CAM with the sanity check: how the map compares with the untrained copy's. */
  sanity: SanityCheck | null;
  /** Saliency, integrated gradients: how well the attributions add up. */
  completeness: Completeness | null;
}

/** One deletion or insertion curve: the score after each step, and its area. */
export interface Curve {
  auc: number | null;
  scores: (number | null)[];
}

/** The same curve for the map and for a random map of the same size. */
export interface CurvePair {
  map: Curve | null;
  random: Curve | null;
}

export interface Faithfulness {
  /** The class whose probability the curves follow. */
  classIndex: number | null;
  steps: number | null;
  seed: number | null;
  /** Fraction of the pixels changed at each point of the curves, from 0 to 1. */
  fractions: (number | null)[];
  deletion: CurvePair;
  insertion: CurvePair;
}

export interface SanityCheck {
  rankCorrelation: number | null;
}

export interface Completeness {
  sum: number | null;
  gap: number | null;
}

function readCurve(raw: unknown): Curve | null {
  if (!isObject(raw)) return null;
  const scores = numbers(raw.scores);
  const auc = num(raw.auc);
  return auc === null && scores.every((s) => s === null) ? null : { auc, scores };
}

function readPair(raw: unknown): CurvePair {
  return isObject(raw)
    ? { map: readCurve(raw.map), random: readCurve(raw.random) }
    : { map: null, random: null };
}

export function readFaithfulness(raw: unknown): Faithfulness | null {
  if (!isObject(raw)) return null;
  const deletion = readPair(raw.deletion);
  const insertion = readPair(raw.insertion);
  // Nothing to show at all: the same as no read-out.
  if (![deletion.map, deletion.random, insertion.map, insertion.random].some(Boolean)) return null;
  const count = (value: unknown): number | null => {
    const n = num(value);
    return n !== null && Number.isInteger(n) && n >= 0 ? n : null;
  };
  return {
    classIndex: count(raw.class_index),
    steps: count(raw.steps),
    seed: num(raw.seed),
    fractions: numbers(raw.fractions),
    deletion,
    insertion,
  };
}

export function readSanity(raw: unknown): SanityCheck | null {
  if (!isObject(raw)) return null;
  const r = num(raw.rank_correlation);
  // A correlation outside [-1, 1] is not one: show nothing rather than a wrong number.
  return { rankCorrelation: r !== null && r >= -1 - 1e-9 && r <= 1 + 1e-9 ? r : null };
}

export function readCompleteness(raw: unknown): Completeness | null {
  if (!isObject(raw)) return null;
  const sum = num(raw.sum);
  const gap = num(raw.gap);
  return sum === null && gap === null ? null : { sum, gap };
}

export function readExplainData(data: Raw): ExplainData {
  const predictions: Prediction[] = [];
  if (Array.isArray(data.predictions)) {
    for (const p of data.predictions) {
      if (!isObject(p) || typeof p.index !== "number") continue;
      predictions.push({
        index: p.index,
        name: typeof p.name === "string" ? p.name : String(p.index),
        probability: num(p.probability) ?? 0,
      });
    }
  }
  const channelWeights: ChannelWeight[] = [];
  if (Array.isArray(data.channel_weights)) {
    for (const c of data.channel_weights) {
      if (!isObject(c) || typeof c.channel !== "number") continue;
      channelWeights.push({ channel: c.channel, weight: num(c.weight) ?? 0 });
    }
  }
  const classIndex = num(data.class_index);
  return {
    predictions,
    classIndex,
    className: str(data.class_name, classIndex === null ? "" : String(classIndex)),
    nClasses: num(data.n_classes),
    method: str(data.method),
    channelWeights,
    channels: num(data.channels),
    faithfulness: readFaithfulness(data.faithfulness),
    sanity: readSanity(data.sanity),
    completeness: readCompleteness(data.completeness),
  };
}
