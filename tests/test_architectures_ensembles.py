"""Lesson 03's ensembles: soft and majority voting, members trained at once with vmap, the study's table, SWA."""

import pytest
import torch
from torch import nn

from dlopt_kit.architectures.ensembles import (
    SWA,
    disagreement,
    ensemble_arm,
    ensemble_proba,
    ensemble_study,
    majority_vote,
    member_seeds,
    train_members,
)
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.kept_epochs import carried
from dlopt_kit.core.training import fit

MLP = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=64, epochs=3, monitor="val_acc")


class Fixed(nn.Module):
    """A model that outputs the same logits for every input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits).log(), requires_grad=False)

    def forward(self, x):
        return self.logits.expand(len(x), -1)


def test_soft_and_majority_voting_combine_members_as_documented():
    x = torch.zeros(2, 3)
    a, b, c = Fixed([0.6, 0.4, 0.0]), Fixed([0.0, 0.55, 0.45]), Fixed([0.0, 0.1, 0.9])
    assert torch.allclose(ensemble_proba([a, b, c], x)[0], torch.tensor([0.2, 0.35, 0.45]), atol=1e-6)
    assert majority_vote([a, b, c], x).tolist() == [2, 2]  # one vote each: the tie goes to the higher mean, class 2
    assert majority_vote([a, a, c], x).tolist() == [0, 0]  # two votes beat a higher mean probability
    with pytest.raises(ValueError, match="at least one model"):
        ensemble_proba([], x)


def test_members_trained_at_once_match_members_trained_alone(tiny):
    members, _ = train_members(MLP, tiny, size=3, seed=1)
    assert [r.config.seed for r in members] == member_seeds(1, 3) == [1000, 1001, 1002]
    weights = [r.model[1].weight for r in members]
    assert not torch.equal(weights[0], weights[1])  # independently initialised
    alone = fit(MLP.replace(seed=1000), tiny, progress=False)  # the first member also has the first's batch order
    assert torch.allclose(alone.model[1].weight, weights[0], atol=1e-4)


def test_ensemble_study_chooses_the_member_on_validation_and_scores_the_ensemble(tiny):
    table = ensemble_study(MLP, tiny, size=3, seeds=(0, 1))
    assert list(table.index) == [0, 1]
    assert {"best member", "mean member", "average", "vote", "best member val_acc", "seconds"} <= set(table.columns)
    scores = table[["best member", "average", "vote"]]
    assert ((scores >= 0) & (scores <= 1)).all().all()
    cnn = ensemble_study(MLP.replace(model="cnn", epochs=1), tiny, size=2, seeds=(0,))  # not vmap-able: one by one
    assert len(cnn) == 1


def test_disagreement_is_the_mean_share_of_inputs_two_members_classify_differently():
    x = torch.zeros(4, 3)
    a, b = Fixed([0.6, 0.4, 0.0]), Fixed([0.1, 0.2, 0.7])
    assert disagreement([a, a], x) == 0.0
    assert disagreement([a, b], x) == 1.0
    assert disagreement([a, a, b], x) == pytest.approx(2 / 3)  # pairs (a, a), (a, b), (a, b)
    with pytest.raises(ValueError, match="at least 2 members, got 1"):
        disagreement([a], x)


def test_members_trained_by_a_member_function_in_workers_match_the_kit_fit(tiny):
    from functools import partial

    from dlopt_kit.core.training import fit_quietly

    kit = ensemble_study(MLP.replace(patience=2), tiny, size=2, seeds=(0, 1))
    own = ensemble_study(MLP.replace(patience=2), tiny, size=2, seeds=(0, 1), fit_member=partial(fit_quietly))
    columns = ["best member", "mean member", "average", "vote", "disagreement", "kept epoch", "epochs run"]
    assert kit[columns].equals(own[columns])
    assert own["disagreement"].between(0, 1).all() and own["ended early"].dtype == bool


def test_an_ensemble_arm_carries_its_latest_member_epochs_so_a_claim_checks_convergence(tiny):
    table = ensemble_study(MLP, tiny, size=2, seeds=(0, 1))
    arm = ensemble_arm(table, "average")
    epochs = carried(arm)
    assert epochs is not None and list(arm.index) == [0, 1] and epochs.budget == {0: 3, 1: 3}
    assert all(1 <= k <= 3 for k in epochs.kept.values())
    with pytest.raises(ValueError, match="column='median' is not in the table"):
        ensemble_arm(table, "median")


def test_swa_averages_the_weights_of_the_last_epochs(tiny):
    swa = SWA(start=2)
    result = fit(MLP.replace(epochs=4), tiny, progress=False, callbacks=[swa])
    assert swa.averaged == 3 and int(swa.model.n_averaged) == 3
    assert not torch.equal(swa.model.module[1].weight, result.model[1].weight)
    with pytest.raises(ValueError, match="start=0"):
        SWA(start=0)
