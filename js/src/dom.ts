// Small DOM helpers. Text always goes through textContent: layer names, types and
// captions come from the kernel and may contain markup.

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** An element with attributes (false/null/undefined are left out) and optional text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) node.removeAttribute(name);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/** Object URL of PNG bytes; the caller revokes it. */
export function pngUrl(png: Uint8Array): string {
  // Blob wants an ArrayBuffer-backed view; the bytes were copied into one by toBytes.
  return URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: "image/png" }));
}

let counter = 0;

/** A prefix for element ids, unique per view, so two views on one page never share an id. */
export function uniqueId(base: string): string {
  counter += 1;
  return `${base}-${counter}`;
}
