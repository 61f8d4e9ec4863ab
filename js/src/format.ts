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
