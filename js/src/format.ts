// Numbers as model.summary() readers expect them.

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `(None, 26, 26, 32)` -> `26 × 26 × 32`: the batch axis is dropped, unknown sizes read `?`. */
export function formatShape(shape: readonly (number | null)[] | null | undefined): string {
  if (!shape || shape.length === 0) return "—";
  const dims = shape[0] === null ? shape.slice(1) : shape;
  if (dims.length === 0) return "—";
  return dims.map((d) => (d === null ? "?" : String(d))).join(" × ");
}

/** Parameter count with thousands separators (`1,234,567`); `0` stays `0`. */
export function formatParams(params: number): string {
  return Number.isFinite(params) ? integer.format(params) : "—";
}

/**
 * A weight or statistic in a few significant digits: `0.0152`, `-0.305`, `1.2e-5`;
 * null and non-finite values read `—`.
 */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(Math.max(0, digits - 2));
  // toPrecision keeps trailing zeros (0.100); Number() drops them again.
  return String(Number(value.toPrecision(digits)));
}

/** A probability as a percentage: `80.1%`, `<0.1%` for what rounds to nothing. */
export function formatPercent(probability: number): string {
  if (!Number.isFinite(probability)) return "—";
  const pct = probability * 100;
  if (pct > 0 && pct < 0.05) return "<0.1%";
  return `${pct.toFixed(1)}%`;
}
