"""The training recipe's optimiser (SGD, RMSProp, AdamW: the class and the hyperparameters in its groups, and
what one step does to a weight), the Inception-v3 preset, and auxiliary losses: added with the spec's weights
in training only, reported by evaluate and `nas train`."""
import dataclasses
import json

import pytest
import torch

from nas.cli import main
from nas.training.auxiliary import training_loss
from nas.training.data import DataSource
from nas.training.evaluate import evaluate
from nas.training.optim import make_optimizer
from nas.training.recipes import inception_v3_recipe, recipe
from nas.training.train import PROXY, ConfigError, TrainConfig, param_groups
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.counting import count
from search_spaces.network import build
from search_spaces.spec import AuxHead, Block
from tests.test_train import tiny_spec

FAST = TrainConfig(epochs=1, batch_size=32, lr=0.05, threads=1)
DATA = DataSource("synthetic", resolution=16, size=320, num_classes=3)  # 6 steps of 32 an epoch


def _one_step(config: TrainConfig) -> tuple[torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    """One step on a linear layer with gradient 1 on its (undecayed) bias: (optimiser, bias before, after)."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    opt = make_optimizer(param_groups(layer, config.weight_decay), config)
    before = layer.bias.detach().clone()
    layer.weight.grad, layer.bias.grad = torch.ones_like(layer.weight), torch.ones_like(layer.bias)
    opt.step()
    return opt, before, layer.bias.detach()


def test_sgd_is_the_default_with_nesterov_momentum():
    opt, before, after = _one_step(PROXY)
    assert type(opt) is torch.optim.SGD
    assert [(g["momentum"], g["nesterov"], g["weight_decay"]) for g in opt.param_groups] == [
        (0.9, True, PROXY.weight_decay), (0.9, True, 0.0)]
    # first step: buffer = g; Nesterov takes g + momentum * buffer
    assert torch.allclose(before - after, torch.full((2,), 0.05 * 1.9))


def test_rmsprop_takes_its_decay_eps_and_momentum():
    config = dataclasses.replace(PROXY, optimizer="rmsprop", rmsprop_decay=0.9, optimizer_eps=1.0, momentum=0.9)
    opt, before, after = _one_step(config)
    assert type(opt) is torch.optim.RMSprop
    assert [(g["alpha"], g["eps"], g["momentum"], g["weight_decay"]) for g in opt.param_groups] == [
        (0.9, 1.0, 0.9, PROXY.weight_decay), (0.9, 1.0, 0.9, 0.0)]
    # mean square (1 - 0.9) * 1; step lr * g / (sqrt(0.1) + eps)
    assert torch.allclose(before - after, torch.full((2,), 0.05 / (0.1 ** 0.5 + 1.0)))


def test_adamw_takes_momentum_as_beta1_and_decouples_decay():
    config = dataclasses.replace(PROXY, optimizer="adamw", lr=1e-3, momentum=0.8, beta2=0.99, optimizer_eps=1e-6,
                                 weight_decay=0.05)
    opt, before, after = _one_step(config)
    assert type(opt) is torch.optim.AdamW
    assert [(g["betas"], g["eps"], g["weight_decay"]) for g in opt.param_groups] == [
        ((0.8, 0.99), 1e-6, 0.05), ((0.8, 0.99), 1e-6, 0.0)]
    # bias-corrected first step: lr * g / (|g| + eps), whatever the betas
    assert torch.allclose(before - after, torch.full((2,), 1e-3 / (1 + 1e-6)))


def test_the_three_first_steps_differ():
    steps = [_one_step(dataclasses.replace(PROXY, optimizer=name)) for name in ("sgd", "rmsprop", "adamw")]
    moved = [(before - after)[0].item() for _, before, after in steps]
    assert len({round(m, 6) for m in moved}) == 3


@pytest.mark.parametrize("change,message", [
    ({"optimizer": "adam"}, "optimizer must be one of sgd, rmsprop, adamw; got 'adam'"),
    ({"rmsprop_decay": 1.0}, r"rmsprop_decay and beta2 in \[0, 1\)"),
    ({"optimizer_eps": 0.0}, "optimizer_eps > 0"),
])
def test_bad_optimizer_settings_are_one_line(change, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**change)


def test_the_inception_v3_preset():
    # Szegedy et al. 2016: RMSProp decay 0.9, eps 1.0, lr 0.045 per batch of 32, label smoothing 0.1; TF-slim
    # research/slim/train_image_classifier.py (tensorflow/models 64f40ce1): rmsprop_momentum 0.9, weight_decay 4e-5
    config = inception_v3_recipe()
    assert (config.optimizer, config.rmsprop_decay, config.optimizer_eps, config.momentum) == ("rmsprop", 0.9, 1.0, 0.9)
    assert (config.lr, config.batch_size, config.weight_decay, config.label_smoothing) == (0.045, 32, 4e-5, 0.1)
    assert config.schedule == "cosine" and config.aux and config.epochs == PROXY.epochs
    assert recipe("proxy") == PROXY and recipe("inception_v3") == config
    with pytest.raises(ConfigError, match="unknown recipe 'inception'; known: proxy, inception_v3"):
        recipe("inception")


def aux_spec(weight: float = 0.5):
    """tiny_spec with an auxiliary classifier after its first stage."""
    head = AuxHead(1, 1, (Block("conv", ConvArgs(4, 1)), Block("classifier", ClassifierArgs())), weight)
    return dataclasses.replace(tiny_spec(), aux=(head,))


def test_the_loss_adds_each_head_with_its_weight():
    loss_fn = torch.nn.CrossEntropyLoss()
    torch.manual_seed(0)
    logits, aux, labels = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    model = torch.nn.Module()
    model.aux_weights = (0.3,)
    out, loss = training_loss((logits, [aux]), labels, loss_fn, model)
    assert out is logits and torch.allclose(loss, loss_fn(logits, labels) + 0.3 * loss_fn(aux, labels))
    out, loss = training_loss(logits, labels, loss_fn, model)  # eval-style output: the main loss alone
    assert torch.allclose(loss, loss_fn(logits, labels))


def test_training_updates_the_heads_and_reports_them():
    metrics = evaluate(aux_spec(), FAST, DATA)
    assert metrics.failure is None and metrics.aux_losses == ("0.5 x aux1 after s1.b1",)
    assert (metrics.macs, metrics.params) == (count(aux_spec()).macs, count(aux_spec()).params)  # deployed
    assert evaluate(aux_spec(), dataclasses.replace(FAST, aux=False), DATA).aux_losses == ()
    # the head learns only from its loss: weight 0 (and no weight decay) leaves its classifier where it started
    from nas.training.data import load
    from nas.training.evaluate import adapt
    from nas.training.train import fit

    data = load(DATA)
    for weight, moves in ((0.0, False), (0.5, True)):
        torch.manual_seed(0)
        model = build(adapt(aux_spec(weight), data), aux=True)
        start = model.aux[0][1].fc.weight.detach().clone()
        fit(model, data, dataclasses.replace(FAST, weight_decay=0.0))
        assert (not torch.equal(start, model.aux[0][1].fc.weight)) == moves


def test_heads_that_do_not_fit_the_proxy_side_are_skipped_with_the_reason():
    # Inception-v3's AuxLogits (5x5/3 pool, then an unpadded 5x5 conv) needs Mixed_6e's 17x17 map; the network
    # alone trains from 75 px, which the proxy keeps rather than training at 299
    from search_spaces import backbones

    metrics = evaluate(backbones.get("inception_v3"), dataclasses.replace(FAST, epochs=1), DataSource(
        "synthetic", resolution=16, size=64, num_classes=3, channels=3))
    assert metrics.proxy_resolution == 75 and metrics.aux_losses == ()
    assert metrics.aux_skipped.startswith("auxiliary head aux1 after s3.b5 does not fit at 75x75")


def test_nas_train_says_it_used_the_auxiliary_losses_and_the_recipe(tmp_path, capsys):
    path = tmp_path / "aux.json"
    path.write_text(aux_spec(0.3).to_json())
    args = ["train", str(path), "--data", "synthetic:1,16,3,96", "--epochs", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "  aux losses   0.3 x aux1 after s1.b1 (auxiliary heads, training only; --no-aux: none)" in out
    assert "  optimizer    sgd (lr 0.05 at batch 32, Nesterov momentum 0.9" in out
    assert main(args + ["--no-aux", "--recipe", "inception_v3", "--lr", "0.01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["aux_losses"] == [] and data["failure"] is None
    assert main(args + ["--recipe", "inception_v3"]) == 0
    assert ("  optimizer    rmsprop (lr 0.045 at batch 32, decay 0.9, eps 1, momentum 0.9, weight decay 4e-05, "
            "cosine schedule)") in capsys.readouterr().out
    assert main(args + ["--optimizer", "adamw", "--lr", "0.001"]) == 0
    assert "  optimizer    adamw (lr 0.001 at batch 32, betas (0.9, 0.999), eps 1e-08" in capsys.readouterr().out
