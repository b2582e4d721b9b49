"""Models sized for a CPU: a linear model (logistic regression), an MLP, a small CNN and a GRU that reads its input
as a sequence (an image row by row), each but the linear one with optional dropout; the MLP and the CNN also with
batch norm and dropout on the inputs.

On 28x28 images a CPU epoch over a few thousand examples takes a few seconds with either.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.regularize import param_groups


def _block(n_in: int, n_out: int, batch_norm: bool, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(nn.ReLU())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def _input_dropout(p: float) -> list[nn.Module]:
    return [nn.Dropout(p)] if p > 0 else []


class MLP(nn.Sequential):
    """Flatten, two hidden layers of ``hidden`` units, a linear classifier; ``dropout`` after each hidden layer's
    activation, ``input_dropout`` on the flattened inputs."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 128,
                 batch_norm: bool = False, dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        n_in = math.prod(input_shape)
        super().__init__(nn.Flatten(), *_input_dropout(input_dropout), *_block(n_in, hidden, batch_norm, dropout),
                         *_block(hidden, hidden, batch_norm, dropout), nn.Linear(hidden, num_classes))


class SmallCNN(nn.Sequential):
    """Two 3x3 conv blocks (16 and 32 channels) with 2x2 max pooling, then an MLP head of ``hidden`` units;
    ``dropout`` after the head's hidden layer, ``input_dropout`` on the input pixels."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 128,
                 batch_norm: bool = False, dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"the cnn model needs images of shape (channels, height, width), got {input_shape}: "
                             "use model='mlp' for tabular or 2-D data")
        channels, height, width = input_shape

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            return [*layers, nn.ReLU(), nn.MaxPool2d(2)]

        flat = 32 * (height // 4) * (width // 4)
        super().__init__(*_input_dropout(input_dropout), *conv(channels, 16), *conv(16, 32), nn.Flatten(),
                         *_block(flat, hidden, batch_norm=False, dropout=dropout), nn.Linear(hidden, num_classes))
        # channels-last: on a CPU max pooling and the convolutions run several times faster in this layout (the
        # pooling about 8x); the values are the same, only the memory order differs
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


class Linear(nn.Sequential):
    """Flatten and one linear layer: multinomial logistic regression, the smallest model (lesson 01's features)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, **_: object) -> None:
        super().__init__(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


class RowGRU(nn.Module):
    """A one-layer GRU of ``hidden`` units that reads its input as a sequence, then a linear classifier on its last
    state: an image (C, H, W) is read row by row (H steps of C x W values), a sequence (T, F) step by step.
    ``dropout`` on the last state; batch norm and input dropout are not used by this model."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 128, dropout: float = 0.0,
                 **_: object) -> None:
        super().__init__()
        if len(input_shape) not in (2, 3):
            raise ValueError(f"the rnn model reads sequences (steps, features) or images (channels, height, width), "
                             f"got inputs of shape {input_shape}: use model='mlp' for tabular or 2-D data")
        steps_features = input_shape if len(input_shape) == 2 else (input_shape[1], input_shape[0] * input_shape[2])
        self.gru = nn.GRU(steps_features[1], hidden, batch_first=True)
        self.head = nn.Sequential(*_input_dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # (N, C, H, W) -> (N, H, C*W): one step per row
            x = x.permute(0, 2, 1, 3).flatten(2)
        _, last = self.gru(x)
        return self.head(last[-1])


def build_model(config: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The model ``config.model`` names, for inputs of ``input_shape`` (without the batch axis)."""
    kinds = {"mlp": MLP, "cnn": SmallCNN, "linear": Linear, "rnn": RowGRU}
    return kinds[config.model](tuple(input_shape), num_classes, hidden=config.hidden,
                               batch_norm=config.batch_norm, dropout=config.dropout,
                               input_dropout=config.input_dropout)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, with its lr, and ``weight_decay`` on the weights only (biases and
    norm parameters are not decayed; see ``regularize``). As PyTorch documents it, sgd and adam add
    ``weight_decay * w`` to the gradient (coupled: Adam then rescales it with the rest), adamw multiplies the weights
    by ``1 - lr * weight_decay`` before the Adam step (decoupled, Loshchilov & Hutter 2019). A model may say how
    its parameters are grouped by defining ``optimizer_groups(weight_decay, lr) -> list[dict]`` (lesson 03's
    ``TransferNet`` does, to give its backbone a smaller lr); otherwise ``regularize.param_groups`` groups them.
    Adam and AdamW take ``foreach=True`` (one fused update over all parameters; PyTorch's default on a GPU, not on a
    CPU): the weights are bit-identical to the per-parameter loop's; a small CNN's CPU fit measured 1.8x faster, an
    MLP's about the same."""
    own = getattr(model, "optimizer_groups", None)
    groups = own(config.weight_decay, config.lr) if own is not None else param_groups(model, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=0.0)
    kind = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return kind(groups, lr=config.lr, weight_decay=0.0, foreach=True)  # the groups carry the decay
