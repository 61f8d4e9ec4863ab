"""Arrays to pictures: mosaics, kernel grids, pattern grids, heatmaps, PNG encoding.

Everything here is numpy on arrays that are already computed (Pillow encodes, matplotlib
supplies the colour maps); nothing imports a framework or calls a model.  One tile-atlas
(:func:`tile_atlas`) and one downsampling rule (:func:`fit_factor`, :func:`block_mean`) serve
every grid, in the widget and in the static plots alike.
"""

from __future__ import annotations

from .atlas import (
    GAP,
    MAX_ATLAS_SIDE,
    block_mean,
    fit_factor,
    grid_meta,
    grid_shape,
    opaque,
    tile_atlas,
)
from .colors import (
    GAP_INDEX,
    NAN_INDEX,
    NAN_RGB,
    PALETTE_LEVELS,
    colorize,
    colormap_lut,
    encode_palette_png,
    encode_png,
    hex_color,
    palette_indices,
)
from .kernels import (
    WEIGHTS_CMAP,
    as_conv4d,
    can_draw_rgb,
    check_in_channel,
    colorbar,
    filter_detail,
    kernel_grid_picture,
    kernel_grid_shape,
    kernel_tiles,
    matrix_picture,
    normalize_symmetric,
    symmetric_vmax,
    tiles_mode,
)
from .maps import (
    HEATMAP_CMAP,
    feature_map_picture,
    heatmap_picture,
    image_picture,
    mosaic,
    normalize_tiles,
    single_picture,
    thumbnail_png,
)
from .notes import WARNING_CODES, Note, note_codes, value_warnings
from .patterns import pattern_display, pattern_picture
from .picture import Picture

__all__ = [
    "GAP",
    "GAP_INDEX",
    "HEATMAP_CMAP",
    "MAX_ATLAS_SIDE",
    "NAN_INDEX",
    "NAN_RGB",
    "PALETTE_LEVELS",
    "WARNING_CODES",
    "WEIGHTS_CMAP",
    "Note",
    "Picture",
    "as_conv4d",
    "block_mean",
    "can_draw_rgb",
    "check_in_channel",
    "colorbar",
    "colorize",
    "colormap_lut",
    "encode_palette_png",
    "encode_png",
    "feature_map_picture",
    "filter_detail",
    "fit_factor",
    "grid_meta",
    "grid_shape",
    "heatmap_picture",
    "hex_color",
    "image_picture",
    "kernel_grid_picture",
    "kernel_grid_shape",
    "kernel_tiles",
    "matrix_picture",
    "mosaic",
    "normalize_symmetric",
    "normalize_tiles",
    "note_codes",
    "opaque",
    "palette_indices",
    "pattern_display",
    "pattern_picture",
    "single_picture",
    "symmetric_vmax",
    "thumbnail_png",
    "tile_atlas",
    "tiles_mode",
    "value_warnings",
]
