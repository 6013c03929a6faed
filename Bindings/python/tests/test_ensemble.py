"""Ensembles: nnrt.Ensemble and ensembles stored in files, both voting rules, ties, mismatches."""

import numpy as np
import pytest

import modelwriter as mw
from support import constant_net, random_inputs, random_net, vote, require_nnrt

nnrt = require_nnrt()

RULES = ["majority", "mean-probability"]


@pytest.fixture(scope="module")
def nets():
    return [random_net((784, 20, 10), seed=100 + i, name=f"m{i}") for i in range(5)]


def _member_outputs(nets, x):
    return np.stack([net.forward(x) for net in nets], axis=1)  # (N, members, classes)


@pytest.mark.parametrize("rule", RULES)
def test_ensemble_create_matches_reference(nets, rule):
    x = random_inputs(400, seed=21)
    models = [nnrt.Model(net.file()) for net in nets]
    ensemble = nnrt.Ensemble(models, voting=rule)
    for model in models:  # the ensemble keeps its members alive
        model.close()
    with ensemble:
        assert ensemble.member_count == 5 and ensemble.voting == rule
        assert ensemble.format_version == 0 and ensemble.producer == ("", "")
        assert ensemble.labels == mw.DIGITS and ensemble.input_shape == (1, 28, 28)
        assert "members=5" in repr(ensemble)
        member_outputs = _member_outputs(nets, x)
        labels, combined = vote(member_outputs, rule)
        np.testing.assert_array_equal(ensemble.predict(x), labels)
        np.testing.assert_allclose(ensemble.predict_proba(x), combined, atol=1e-5)
        got_labels, got_outputs = ensemble.predict_members(x)
        assert got_labels.shape == (400, 5) and got_outputs.shape == (400, 5, 10)
        np.testing.assert_allclose(got_outputs, member_outputs, atol=1e-5)
        np.testing.assert_array_equal(got_labels, member_outputs.argmax(axis=2))
        pixels = (x * 255).astype(np.uint8)
        np.testing.assert_array_equal(ensemble.predict(pixels),
                                      vote(_member_outputs(nets, pixels / 255.0), rule)[0])


@pytest.mark.parametrize("rule", RULES)
def test_ensemble_file(nets, rule):
    code = {"majority": mw.VOTING_RULE_MAJORITY, "mean-probability": mw.VOTING_RULE_MEAN_PROBABILITY}[rule]
    data = mw.model_file(ensemble_body=mw.ensemble("committee", [n.message() for n in nets[:3]], code))
    x = random_inputs(100, seed=22)
    with nnrt.Model(data) as model:
        assert model.member_count == 3 and model.voting == rule and model.name == "committee"
        assert model.format_version == 1
        labels, combined = vote(_member_outputs(nets[:3], x), rule)
        np.testing.assert_array_equal(model.predict(x), labels)
        np.testing.assert_allclose(model.predict_proba(x), combined, atol=1e-5)
        # Re-voting a loaded ensemble under the other rule.
        other = RULES[1 - RULES.index(rule)]
        with nnrt.Ensemble([model], voting=other) as revoted:
            assert revoted.member_count == 3 and revoted.voting == other
            np.testing.assert_array_equal(revoted.predict(x), vote(_member_outputs(nets[:3], x), other)[0])


def _constant_ensemble(rows, rule):
    return nnrt.Ensemble([nnrt.Model(constant_net(r, name=f"c{i}").file()) for i, r in enumerate(rows)],
                         voting=rule)


def test_majority_tie_goes_to_the_largest_summed_output():
    # Two votes for 0, two for 1. Summed outputs: 0 -> 1.9, 1 -> 2.4, 2 -> 2.8 (no votes).
    rows = [[0.6, 0.3, 0.55], [0.6, 0.3, 0.55], [0.35, 0.9, 0.85], [0.35, 0.9, 0.85]]
    x = random_inputs(3)
    with _constant_ensemble(rows, "majority") as ensemble:
        np.testing.assert_array_equal(ensemble.predict(x), [1, 1, 1])
        np.testing.assert_allclose(ensemble.predict_proba(x), [[0.5, 0.5, 0.0]] * 3, atol=1e-6)
    with _constant_ensemble(rows, "mean-probability") as ensemble:
        np.testing.assert_array_equal(ensemble.predict(x), [2, 2, 2])
        np.testing.assert_allclose(ensemble.predict_proba(x), [np.mean(rows, axis=0)] * 3, atol=1e-6)


def test_majority_tie_on_sums_goes_to_the_smallest_index():
    # Votes tie (2-2) and so do the sums of the tied labels (3.0 each, exactly representable);
    # label 2 has the largest sum but no votes.
    rows = [[0.5, 1.0, 0.9], [0.5, 1.0, 0.9], [1.0, 0.5, 0.9], [1.0, 0.5, 0.9]]
    with _constant_ensemble(rows, "majority") as ensemble:
        np.testing.assert_array_equal(ensemble.predict(random_inputs(2)), [0, 0])


def test_mean_probability_tie_goes_to_the_smallest_index():
    with _constant_ensemble([[0.0, 0.25, 0.75], [0.0, 0.75, 0.25]], "mean-probability") as ensemble:
        np.testing.assert_array_equal(ensemble.predict(random_inputs(2)), [1, 1])


def test_members_must_agree():
    small = nnrt.Model(random_net((100, 10), seed=1, contract=((1, 10, 10), 1 / 255, 0.0, 1)).file())
    big = nnrt.Model(random_net((784, 10), seed=2).file())
    with pytest.raises(nnrt.ShapeMismatchError) as info:
        nnrt.Ensemble([small, big])
    assert info.value.status == 5 and info.value.message
    letters = nnrt.Model(random_net((784, 10), seed=3, labels=list("abcdefghij")).file())
    with pytest.raises(nnrt.ShapeMismatchError):
        nnrt.Ensemble([big, letters], voting="mean-probability")
    fewer = nnrt.Model(random_net((784, 3), seed=4, labels=["0", "1", "2"]).file())
    with pytest.raises(nnrt.ShapeMismatchError):
        nnrt.Ensemble([big, fewer])


def test_bad_arguments():
    model = nnrt.Model(random_net((784, 10), seed=5).file())
    with pytest.raises(nnrt.InvalidArgumentError):
        nnrt.Ensemble([], voting="majority")
    with pytest.raises(nnrt.InvalidArgumentError):
        nnrt.Ensemble([model], voting="plurality")
    with pytest.raises(nnrt.InvalidArgumentError) as info:
        nnrt.Ensemble([model], voting=7)  # rejected by the library
    assert info.value.status == 1
    with pytest.raises(TypeError):
        nnrt.Ensemble([model, "m.nnrt"])
    model.close()
    with pytest.raises(nnrt.ClosedModelError):
        nnrt.Ensemble([model])
