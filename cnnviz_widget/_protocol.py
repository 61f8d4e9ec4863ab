"""Message kinds shared by the kernel and the browser.

Keep in sync with ``js/src/protocol.ts``.

State lives in synced traits (``layers``, ``samples``, ``layer``, ``view``, ``sample``,
``views``, ``lang``, ``class_names``, the view options ``class_index``, ``cam_method``,
``smooth``, ``in_channel``, ``rgb``, ``channel``, and ``snapshot``).  The browser changes the
selection by setting traits; every change of ``layer``/``view``/``sample`` or of an option
the current view depends on (``_views.OPTIONS``), from the browser or from Python, starts a
request with a fresh, increasing id.  Images travel as custom messages, one PNG per entry
of ``images`` in ``buffers``::

    kernel -> browser
      {"type": "pending", "id": 7, "layer": "conv2d", "view": "activations", "sample": 0,
       "options": {}}
      {"type": "result",  "id": 7, "layer": ..., "view": ..., "sample": ..., "options": {...},
       "final": true, "image": {...meta of images[0]}, "images": [{"role": "main", ...}],
       "caption": "...", "warnings": [...], "data": {...view-specific numbers}}
       + buffers = [png bytes, one per image]
      {"type": "error",   "id": 7, "layer": ..., "view": ..., "sample": ..., "message": "..."}

    browser -> kernel
      {"type": "refresh"}   # compute the current selection again (a late view, a retry)

``snapshot`` holds the latest final result (its message plus ``pngs``) or the
latest error, so a saved notebook or exported HTML shows it without a kernel.
"""

from __future__ import annotations

PENDING = "pending"
RESULT = "result"
ERROR = "error"
REFRESH = "refresh"
