"""Small torch models and the checks every torch test makes after every call.

Shared by ``test_torch_adapter.py`` and ``test_torch_references.py``.  Importing this module
imports torch: only torch tests import it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Hook dictionaries of a module; every one must be empty after any of our calls.
HOOK_ATTRIBUTES = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)
_GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
)


class Guard:
    """What a call must leave as it was: hooks, every module's training flag, every parameter
    and buffer bitwise, ``requires_grad`` flags, and no ``.grad`` written."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modes = [(name, m.training) for name, m in model.named_modules()]
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.flags = [(name, p.requires_grad) for name, p in model.named_parameters()]

    def check(self) -> None:
        model = self.model
        for name, module in model.named_modules():
            for attribute in HOOK_ATTRIBUTES:
                assert not getattr(module, attribute, {}), f"{attribute} left on {name!r}"
        for attribute in _GLOBAL_HOOKS:
            assert not getattr(nn.modules.module, attribute, {}), f"{attribute} left behind"
        assert [(name, m.training) for name, m in model.named_modules()] == self.modes
        state = model.state_dict()
        assert list(state) == list(self.state)
        for key, value in self.state.items():
            assert state[key].dtype == value.dtype, key
            assert torch.equal(state[key], value), f"{key} changed"
        assert [(name, p.requires_grad) for name, p in model.named_parameters()] == self.flags
        assert all(p.grad is None for p in model.parameters()), "a .grad was written"


class SkipNet(nn.Module):
    """conv-bn-relu, a residual block (``nn.Sequential``) added back with a functional ``+``,
    dropout and a linear head.  ``inplace`` picks in-place or plain ReLUs."""

    def __init__(self, inplace: bool = False, classes: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.block = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=inplace),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.BatchNorm2d(8),
        )
        self.relu2 = nn.ReLU(inplace=inplace)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.block(x) + x)
        return self.fc(self.drop(self.flat(self.pool(x))))


def skip_net(inplace: bool = False, seed: int = 0) -> SkipNet:
    """A ``SkipNet`` with non-trivial batch-norm statistics, left in train mode (our calls
    must switch to eval semantics themselves and put train mode back)."""
    torch.manual_seed(seed)
    model = SkipNet(inplace)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.train()


def nhwc(x: torch.Tensor) -> np.ndarray:
    """A channels-first tensor as the channels-last numpy batch the adapter takes."""
    return x.detach().permute(0, 2, 3, 1).numpy()


def images(n: int = 2, size: int = 12, seed: int = 1) -> torch.Tensor:
    """``(n, 3, size, size)`` float32 normal noise: model input, channels-first."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=generator)
