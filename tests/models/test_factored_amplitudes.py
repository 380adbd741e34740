"""Helicity sums of factored amplitudes (``FactoredAmplitudes``): the kernels' summed squares
times the coefficients' colour forms equal the helicity sum of the expanded amplitudes, for
values, single-diagram squares and parameter gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from momenta import on_shell_momenta
from tolerance import assert_close

from diffsim.amplitudes.layout import EventLayout
from diffsim.amplitudes.split import SplitComplex
from diffsim.models import sm, zprime
from diffsim.models.process import FactoredAmplitudes, _factored_helicity_sums

DISJOINT = [("sm", "e+ e- > mu+ mu-"), ("sm", "u u~ > d d~"), ("zprime", "d d~ > e+ e-")]


def build(model, name):
    return (sm if model == "sm" else zprime).process(name)


def _factored(process):
    """The process's term amplitudes for the default parameters on a few momenta."""
    seen = []
    original = type(process).term_amplitudes

    def spy(self, model, waves):
        seen.append(original(self, model, waves))
        return seen[-1]

    momenta = on_shell_momenta(process, 3, seed=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(process), "term_amplitudes", spy)
        process._summed(momenta, process.model, process._reduction("matrix_element"))
    return seen[0]


def _summed(process, kind, momenta, expand, gradient=False):
    """``process._summed`` at the default parameters, or with ``gradient`` the gradient of
    its batch sum w.r.t. them, compiled afresh with the factored terms expanded if ``expand``."""
    original = type(process).term_amplitudes
    params = jax.tree_util.tree_map(jnp.asarray, process.model)

    def expanded(self, model, waves):
        return original(self, model, waves).expanded()

    def summed(q, p):
        return process._summed(q, p, process._reduction(kind))

    function = jax.grad(lambda q, p: summed(q, p).sum(), argnums=1) if gradient else summed
    with pytest.MonkeyPatch.context() as patch:
        if expand:
            patch.setattr(type(process), "term_amplitudes", expanded)
        return eqx.filter_jit(function)(momenta, params)


@pytest.mark.parametrize("model, name", DISJOINT, ids=[f"{m}:{n}" for m, n in DISJOINT])
def test_factored_helicity_sums_match_the_expanded_amplitudes(model, name):
    process = build(model, name)
    factored = _factored(process)
    assert isinstance(factored, FactoredAmplitudes) and factored.disjoint
    # 40 events: two blocks of 32 lanes, the second padded.
    momenta = on_shell_momenta(process, 40, seed=7)
    for kind in ("matrix_element", "diagram_squares"):
        fast = _summed(process, kind, momenta, expand=False)
        reference = _summed(process, kind, momenta, expand=True)
        assert_close(fast, reference, rtol=1e-13, what=f"{name} {kind}")

    fast = jax.tree_util.tree_leaves(_summed(process, "matrix_element", momenta, expand=False, gradient=True))
    reference = jax.tree_util.tree_leaves(_summed(process, "matrix_element", momenta, expand=True, gradient=True))
    for a, b in zip(fast, reference, strict=True):
        assert_close(a, b, rtol=1e-11, atol=1e-300, what=f"{name} gradient")


def test_massive_lines_keep_overlapping_kernels_expanded():
    """e+ e- > t t~: both chiral halves of the massive top line are non-zero in every top
    helicity configuration, so the kernels are not disjoint and the terms are expanded."""
    factored = _factored(sm.process("e+ e- > t t~"))
    assert isinstance(factored, FactoredAmplitudes)
    assert not factored.disjoint
    assert len(factored.expanded()) == 2


def test_coefficient_with_helicity_axes_is_rejected():
    layout = EventLayout((4,), (2,))
    kernel = SplitComplex(jnp.ones(layout.full_shape), None)
    helicity_dependent = SplitComplex(jnp.ones(layout.full_shape), None)
    factored = FactoredAmplitudes((kernel,), (((0, helicity_dependent),),), ((None,),))
    with pytest.raises(ValueError, match="varies with helicity"):
        _factored_helicity_sums(factored, lambda amplitudes, scale: [amplitudes[0].re], 1.0, layout)


def test_kernels_are_disjoint_only_if_every_pair_differs_in_a_label():
    kernels = (SplitComplex(jnp.ones(2), None),) * 3
    coefficients = (((0, SplitComplex(1.0, None)),),)
    assert FactoredAmplitudes(kernels, coefficients, ((0, 0), (0, 1), (1, None))).disjoint
    assert not FactoredAmplitudes(kernels, coefficients, ((0, 0), (0, 1), (None, 1))).disjoint
    assert not FactoredAmplitudes(kernels, coefficients, ((0,), (0,), (1,))).disjoint
    np.testing.assert_array_equal(FactoredAmplitudes(kernels[:1], coefficients, ((None,),)).expanded()[0].re, 1.0)


def test_sum_axes_of_matches_sum_axes_in_value_and_both_derivative_modes():
    """The one-pass helicity sum equals the per-array sums, and its derivatives (forward and
    reverse, through the transposable tangent rule) equal theirs."""
    layout = EventLayout((37,), (2, 3))
    keys = jax.random.split(jax.random.key(3), 3)
    xs = [jax.random.normal(k, layout.full_shape) for k in keys]

    def one_pass(xs):
        return sum(jnp.sum(s * (i + 1)) for i, s in enumerate(layout.sum_axes_of([x * x for x in xs])))

    def separate(xs):
        return sum(jnp.sum(layout.sum_axes(x * x) * (i + 1)) for i, x in enumerate(xs))

    for a, b in zip(layout.sum_axes_of(xs), [layout.sum_axes(x) for x in xs], strict=True):
        assert_close(a, b, rtol=1e-13, atol=1e-13)
    for a, b in zip(jax.grad(one_pass)(xs), jax.grad(separate)(xs), strict=True):
        assert_close(a, b, rtol=1e-13)
    tangents = [jnp.ones_like(x) for x in xs]
    assert_close(jax.jvp(one_pass, (xs,), (tangents,))[1], jax.jvp(separate, (xs,), (tangents,))[1], rtol=1e-12)
