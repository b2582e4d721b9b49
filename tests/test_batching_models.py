import pytest
import torch

from dlopt_kit.core.batching import Batcher
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.models import MLP, SmallCNN, build_model, count_parameters, make_optimizer


def test_every_example_once_per_epoch_in_a_new_order():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    batcher = Batcher(x, y, batch_size=3, seed=1)
    assert len(batcher) == 4
    first = torch.cat([yb for _, yb in batcher])
    second = torch.cat([yb for _, yb in batcher])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    for xb, yb in batcher:
        assert torch.equal(xb.squeeze(1).long(), yb)  # x and y stay paired


def test_same_seed_same_order_and_no_shuffle():
    x, y = torch.randn(20, 2), torch.arange(20)
    a = [yb.tolist() for _, yb in Batcher(x, y, 8, seed=5)]
    b = [yb.tolist() for _, yb in Batcher(x, y, 8, seed=5)]
    assert a == b
    plain = [yb.tolist() for _, yb in Batcher(x, y, 8, shuffle=False)]
    assert plain[0] == list(range(8)) and len(plain[-1]) == 4
    assert len(Batcher(x, y, 8, drop_last=True)) == 2


def test_batcher_bad_input():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2"):
        Batcher(torch.zeros(3), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="batch_size=0"):
        Batcher(torch.zeros(3), torch.zeros(3), 0)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_models_shapes_and_options(model, batch_norm):
    config = RunConfig(model=model, batch_norm=batch_norm, dropout=0.2)
    net = build_model(config, (1, 28, 28), 10)
    assert net(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    kinds = {type(m).__name__ for m in net.modules()}
    assert ("Dropout" in kinds) and (any(k.startswith("BatchNorm") for k in kinds) == batch_norm)
    assert isinstance(net, MLP if model == "mlp" else SmallCNN)


def test_cnn_is_small_and_rejects_flat_inputs():
    assert count_parameters(build_model(RunConfig(model="cnn"), (1, 28, 28), 10)) < 250_000
    assert build_model(RunConfig(model="cnn"), (1, 8, 8), 10)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="cnn model needs images.*use model='mlp'"):
        build_model(RunConfig(model="cnn"), (30,), 2)


@pytest.mark.parametrize(("name", "cls"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                           ("adamw", torch.optim.AdamW)])
def test_make_optimizer(name, cls):
    net = torch.nn.Linear(2, 2)
    opt = make_optimizer(RunConfig(optimizer=name, lr=0.5, weight_decay=0.1), net)
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.5
    assert opt.param_groups[0]["weight_decay"] == 0.1 and opt.param_groups[0]["params"] == [net.weight]
    assert opt.param_groups[1]["weight_decay"] == 0.0 and opt.param_groups[1]["params"] == [net.bias]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_make_optimizer_foreach_matches_the_per_parameter_loop(name):
    # make_optimizer asks for foreach=True (faster on a CPU); the weights must be the loop's, bit for bit
    config = RunConfig(optimizer=name, lr=1e-2, weight_decay=0.05)
    finals = []
    for foreach in (True, False):
        torch.manual_seed(0)
        net = MLP((16,), 3, hidden=8)
        opt = make_optimizer(config, net)
        assert all(group["foreach"] for group in opt.param_groups)
        for group in opt.param_groups:
            group["foreach"] = foreach
        data = torch.Generator().manual_seed(1)
        for _ in range(20):
            x, y = torch.randn(32, 16, generator=data), torch.randint(0, 3, (32,), generator=data)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        finals.append(net.state_dict())
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
