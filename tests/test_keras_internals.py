"""The Keras adapter re-runs ``Functional``'s own graph loop, a private API: it must say so
clearly when a Keras release moves it, never give a silently wrong answer."""

from __future__ import annotations

import numpy as np
import pytest


def test_the_installed_keras_has_every_internal_the_adapter_uses(keras):
    from cnnviz_widget.adapters import keras as adapter_module

    adapter_module.require_internals()
    assert keras.__version__.split(".")[0] == "3"  # pyproject bounds keras to >=3,<4


@pytest.mark.parametrize("index", range(4))
def test_a_keras_that_moved_one_gets_a_clear_error(keras, monkeypatch, index):
    """As if a Keras release renamed the internal: the check looks it up on real Keras
    objects, finds nothing, and names it with the Keras version."""
    from cnnviz_widget.adapters import keras as adapter_module

    internals = list(adapter_module._INTERNALS)
    owner, attribute, use = internals[index]
    internals[index] = (owner, attribute + "_moved", use)
    monkeypatch.setattr(adapter_module, "_INTERNALS", tuple(internals))
    with pytest.raises(RuntimeError, match=rf"Keras {keras.__version__}.*{attribute}_moved"):
        adapter_module.require_internals()


def test_every_adapter_answer_still_matches_keras_itself(keras, functional, digits_like):
    """The internals in use give what Keras gives: each layer's output equals a sub-model's."""
    from cnnviz_widget import activations

    recorded = activations(functional, digits_like)
    for layer in functional.layers[1:]:
        reference = keras.Model(functional.inputs, layer.output).predict(digits_like, verbose=0)
        np.testing.assert_allclose(recorded[layer.name], reference, rtol=1e-5, atol=1e-5)
