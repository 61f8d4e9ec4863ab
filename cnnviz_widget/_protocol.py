"""Message kinds shared by the kernel and the browser.

Keep in sync with ``js/src/protocol.ts``.

State lives in synced traits (``layers``, ``samples``, ``layer``, ``view``, ``sample``,
``views``, ``lang``, ``snapshot``).  The browser changes the selection by setting traits;
every change of ``layer``/``view``/``sample`` (from the browser or from Python) starts a
request with a fresh, increasing id.  Images travel as custom messages with the PNG in
``buffers[0]``::

    kernel -> browser
      {"type": "pending", "id": 7, "layer": "conv2d", "view": "activations", "sample": 0}
      {"type": "result",  "id": 7, "layer": ..., "view": ..., "sample": ...,
       "final": true, "image": {...ImageMeta}, "caption": "...", "warnings": [...]}
       + buffers = [png bytes]
      {"type": "error",   "id": 7, "layer": ..., "view": ..., "sample": ..., "message": "..."}

    browser -> kernel
      {"type": "refresh"}   # compute the current selection again (a view opened late)

``snapshot`` holds the latest final result (its message plus ``png``) so a saved notebook
or exported HTML shows it without a kernel.
"""

from __future__ import annotations

PENDING = "pending"
RESULT = "result"
ERROR = "error"
REFRESH = "refresh"

VIEWS = ("activations", "weights", "gradcam", "saliency", "filters")
