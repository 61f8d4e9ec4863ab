// The graph layout's Web Worker: a request in (graph and folded groups), the layout out as
// plain data (graphLayoutWorkerClient.ts sends one request at a time to a worker). Bundled
// on its own by scripts/build.mjs and inlined into the widget as a string.

import { answerLayoutRequest } from "./graphLayout";
import type { LayoutRequest } from "./graphLayoutWorkerClient";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<LayoutRequest>) => void) | null;
  postMessage(message: unknown): void;
};
scope.onmessage = (event) => scope.postMessage(answerLayoutRequest(event.data));
