"""Checkers of notebooks 3.4 (self-supervised) and 3.5 (mixtures and solos): right answers pass,
stubs are "not attempted", a battery of mistakes gets their hints, and the reference measures are right."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score
from test_exercises import battery_cases

from utils.augment import shift_bins
from utils.evaluate import retrieval_report
from utils.exercises import WrongAnswer
from utils.exercises import selfsup_and_mixtures as ex


def _roll_shift(x, shifts):
    return torch.stack([torch.roll(item, int(s), dims=0) for item, s in zip(x, shifts, strict=True)])


def _shift_in_place(x, shifts):
    moved = shift_bins(x, shifts)
    x.copy_(moved)
    return x


def _variant(**mistake):
    return lambda x, shifts: ex.shift_variant(x.numpy(), shifts.numpy(), **mistake)


def _measures(z1, z2):
    return ex.alignment(z1, z2), ex.uniformity(z1)


def _uniformity(**mistake):
    return lambda z1, z2: (ex.alignment(z1, z2), ex.uniformity_variant(z1, **mistake))


def _unit(z):
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _measures_normalising_in_place(z1, z2):
    z1 /= np.linalg.norm(z1, axis=1, keepdims=True)
    return _measures(z1, z2)


def _mean_ap(similarity, relevant):
    return np.mean([average_precision_score(r, s) for r, s in zip(relevant, similarity, strict=True)])


def _mean_ap_variant(**mistake):
    return lambda s, r: ex.mean_ap_variant(s, r, **mistake)


def _mean_ap_in_place(similarity, relevant):
    similarity *= -1  # "distances", on the caller's matrix
    return _mean_ap(-similarity, relevant)


@functools.cache
def _voices_data():
    """Solos (20, 4, 6) nearer or farther from their mixtures by voice, of unequal lengths."""
    rng = np.random.default_rng(0)
    mixtures = rng.normal(size=(20, 6)) * rng.uniform(0.3, 3, size=(20, 1))
    noise = np.array([0.3, 0.8, 1.2, 0.6])[None, :, None] * rng.normal(size=(20, 4, 6))
    solos = (mixtures[:, None] + noise) * rng.uniform(0.3, 3, size=(20, 4, 1))
    return solos, mixtures


@functools.wraps(ex.check_per_voice_map)
def check_voices(make_answer):
    """check_per_voice_map on the test data, the answer made from the right one."""
    solos, mixtures = _voices_data()
    return ex.check_per_voice_map(make_answer(ex.per_voice_map(solos, mixtures)), solos, mixtures)


def _mixtures_as_queries(right):
    solos, mixtures = _voices_data()
    items = np.arange(len(mixtures))
    return {voice: retrieval_report(mixtures, items, gallery=solos[:, v], gallery_labels=items, metric="cosine",
                                    ks=())["map"] for v, voice in enumerate(ex.VOICES)}


def _pooled():
    solos, mixtures = _voices_data()
    items = np.arange(len(mixtures))
    pooled = retrieval_report(solos.reshape(-1, solos.shape[-1]), np.repeat(items, 4), gallery=mixtures,
                              gallery_labels=items, metric="cosine", ks=())["map"]
    return dict.fromkeys(ex.VOICES, pooled)


BATTERY = {
    ex.check_shift_bins: [
        ("torch.roll", _roll_shift, "wraps"),
        ("wrong way", lambda x, shifts: shift_bins(x, -shifts), "wrong way"),
        ("filled with 0", _variant(fill="zero"), "not 0"),
        ("filled with the batch's minimum", _variant(fill="batch"), "own minimum"),
        ("along time", _variant(axis=2), "axis 1"),
        ("the first shift for all", lambda x, shifts: shift_bins(x, shifts[:1].repeat(len(x))), "its own shift"),
        ("shifts in place", _shift_in_place, "in place"),
    ],
    ex.check_alignment_uniformity: [
        ("alignment unnormalised", lambda z1, z2: (float(np.mean(np.sum((z1 - z2) ** 2, axis=1))), ex.uniformity(z1)),
         "normalise the rows"),
        ("alignment not squared", lambda z1, z2: (float(np.mean(np.linalg.norm(_unit(z1) - _unit(z2), axis=1))),
                                                  ex.uniformity(z1)), "mean squared distance"),
        ("uniformity of z2", lambda z1, z2: (ex.alignment(z1, z2), ex.uniformity(z2)), "z1's"),
        ("uniformity with unsquared distances", _uniformity(squared=False), "squared distances"),
        ("pairs i = j included", _uniformity(with_self=True), "leave out i = j"),
        ("no log", _uniformity(log=False), "log of the mean"),
        ("uniformity unnormalised", _uniformity(normalise=False), "before the uniformity"),
        ("t = 1", _uniformity(t=1.0), "t = 2"),
        ("swapped", lambda z1, z2: _measures(z1, z2)[::-1], "order"),
        ("normalises in place", _measures_normalising_in_place, "in place"),
    ],
    ex.check_average_precision: [
        ("increasing similarity", _mean_ap_variant(decreasing=False), "decreasing"),
        ("over the gallery size", _mean_ap_variant(over_relevant=False), "gallery size"),
        ("precision at every rank", _mean_ap_variant(at_hits=False), "only at the ranks"),
        ("columns as queries", _mean_ap_variant(rows_are_queries=False), "axis 1"),
        ("chance level", lambda s, r: r.mean(), "chance level"),
        ("per-query APs", lambda s, r: np.array([average_precision_score(a, b) for a, b in zip(r, s, strict=True)]),
         "one number"),
        ("a constant", lambda s, r: 0.5, "differs"),
        ("negates in place", _mean_ap_in_place, "in place"),
    ],
    check_voices: [
        ("percentages", lambda right: {v: 100 * m for v, m in right.items()}, "percentages"),
        ("voices reversed", lambda right: dict(zip(ex.VOICES, list(right.values())[::-1], strict=True)), "wrong voices"),
        ("Euclidean", lambda right: ex.per_voice_map(*_voices_data(), metric="euclidean"), "cosine"),
        ("mixtures as queries", _mixtures_as_queries, "other way round"),
        ("all voices pooled", lambda right: _pooled(), "pooled"),
        ("one voice off", lambda right: {**right, "bass": right["bass"] + 0.1}, "bass"),
        ("other keys", lambda right: {"S": 1.0}, "keys"),
    ],
}


def test_right_answers_pass(capsys):
    assert ex.check_shift_bins(shift_bins)
    assert ex.check_shift_bins(lambda x, shifts: shift_bins(x, shifts).numpy())  # numpy answers too
    assert ex.check_alignment_uniformity(_measures)
    assert ex.check_average_precision(_mean_ap)
    assert check_voices(lambda right: right)
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("checker", [ex.check_shift_bins, ex.check_alignment_uniformity, ex.check_average_precision])
@pytest.mark.parametrize("stub", [None, lambda *args: ...])
def test_stubs_are_not_attempted(checker, stub, capsys):
    assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_no_checker_states_the_value_or_the_conclusion(capsys):
    solos, mixtures = _voices_data()
    right = ex.per_voice_map(solos, mixtures)
    assert ex.check_per_voice_map(right, solos, mixtures)
    printed = capsys.readouterr().out
    assert "easiest" not in printed and not any(f"{value:.3f}" in printed for value in right.values())
    with pytest.raises(WrongAnswer) as wrong:
        ex.check_per_voice_map({**right, "alto": 0.0}, solos, mixtures)
    assert f"{right['alto']:.3f}" not in str(wrong.value)


def test_the_uniformity_hint_does_not_give_the_value():
    rng = np.random.default_rng(0)
    z1 = 3 * rng.normal(size=(40, 8))  # the checker's data
    with pytest.raises(WrongAnswer) as wrong:
        ex.check_alignment_uniformity(_uniformity(squared=False))
    assert f"{ex.uniformity(z1):.2f}" not in str(wrong.value)


def test_alignment_and_uniformity_by_hand():
    z1 = np.array([[1.0, 0.0], [0.0, 2.0]])
    z2 = np.array([[0.0, 3.0], [0.0, 1.0]])
    assert ex.alignment(z1, z2) == pytest.approx(1.0)  # |(1,0)-(0,1)|^2 = 2, then 0: mean 1
    assert ex.uniformity(z1) == pytest.approx(-4.0)  # one pair at squared distance 2
    assert ex.uniformity(np.ones((5, 3))) == pytest.approx(0.0)  # collapse
    assert ex.uniformity_variant(z1) == pytest.approx(ex.uniformity(z1))


def test_uniformity_matches_wang_and_isola_torch_code():
    z = torch.nn.functional.normalize(torch.randn(30, 6, generator=torch.Generator().manual_seed(0)), dim=1)
    reference = torch.pdist(z, p=2).pow(2).mul(-2).exp().mean().log().item()  # their paper's code
    assert ex.uniformity(z.numpy()) == pytest.approx(reference, rel=1e-5)


def test_the_shift_variant_without_mistakes_is_shift_bins():
    x = torch.randn(3, 8, 4, generator=torch.Generator().manual_seed(2))
    shifts = torch.tensor([2, -3, 0])
    np.testing.assert_allclose(ex.shift_variant(x.numpy(), shifts.numpy()), shift_bins(x, shifts).numpy())


def test_the_mean_ap_variant_without_mistakes_is_scikit_learns():
    rng = np.random.default_rng(4)
    similarity, relevant = rng.normal(size=(5, 9)), rng.random((5, 9)) < 0.4
    relevant[:, 0] = True
    assert ex.mean_ap_variant(similarity, relevant) == pytest.approx(_mean_ap(similarity, relevant))


def test_per_voice_map_by_hand():
    mixtures = np.eye(3)
    solos = np.repeat(np.eye(3)[:, None], 4, axis=1)  # every voice points at its own mixture
    solos[:, 3] = np.roll(np.eye(3), 1, axis=0)  # the bass points at the next item's mixture
    result = ex.per_voice_map(solos, mixtures)
    assert result["soprano"] == result["alto"] == result["tenor"] == pytest.approx(1.0)
    assert result["bass"] == pytest.approx(1 / 3)  # own mixture behind one, tied with another: rank 3
    assert ex.check_per_voice_map(..., solos, mixtures) is False
    with pytest.raises(ValueError):
        ex.per_voice_map(solos[:, :2], mixtures)
