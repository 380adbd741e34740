"""diffsim.kernel_compilation: the amplitude-kernel compiler settings reach XLA, kernel_jit
composes with JAX's transformations and applies them where the integrand asks for them, and a
parameter scan compiles a matrix element once."""

import jax
import jax.numpy as jnp
import pytest
from tolerance import assert_close

from diffsim import kernel_compilation, pdf
from diffsim.channels import EdgeMapped, SingleChannel
from diffsim.hadronic import FixedScale, HadronicChannels, HadronicIntegrand
from diffsim.inference.toys import DrellYanZPrimeToy
from diffsim.kernel_compilation import (
    kernel_compiler_options,
    kernel_jit,
    uses_amplitude_kernels,
)
from diffsim.models import StandardModel, sm


@pytest.fixture
def compilations():
    """Names of the XLA backend compilations during the test (one entry each)."""
    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_xla_accepts_the_cpu_options_and_would_reject_a_wrong_one():
    options = kernel_compiler_options("cpu")
    assert options == {"xla_cpu_use_fusion_emitters": False}
    assert kernel_compiler_options("an accelerator without settings") is None
    program = jax.jit(lambda x: jnp.sin(x) * x, compiler_options=options).lower(jnp.ones(5)).compile()
    assert_close(program(jnp.ones(5)), jnp.sin(1.0) * jnp.ones(5), rtol=1e-6)
    with pytest.raises(Exception, match="No such compile option"):
        jax.jit(lambda x: x, compiler_options={"xla_cpu_use_fusion_emitter": False}).lower(1.0).compile()


def test_options_this_xla_does_not_know_fall_back_to_its_defaults_with_a_warning(monkeypatch):
    monkeypatch.setattr(kernel_compilation, "_OPTIONS", {"cpu": {"xla_no_such_option": True}})
    kernel_compilation._accepted.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="xla_no_such_option"):
            assert kernel_compiler_options("cpu") is None
        assert_close(kernel_jit(lambda x: 2.0 * x)(jnp.ones(3)), 2.0 * jnp.ones(3), rtol=0.0)
    finally:
        kernel_compilation._accepted.cache_clear()


def test_kernel_jit_composes_with_jit_grad_and_vmap():
    """Top level (options given) and inside transformations (left out, as JAX requires)."""
    function = kernel_jit(lambda x, scale: scale * jnp.sin(x) * x)
    x = jnp.linspace(0.1, 1.0, 4)
    expected = 2.0 * jnp.sin(x) * x
    assert_close(function(x, 2.0), expected, rtol=1e-6)
    assert_close(jax.jit(function)(x, 2.0), expected, rtol=1e-6)
    assert_close(jax.vmap(function, in_axes=(0, None))(x, 2.0), expected, rtol=1e-6)
    gradient = jax.grad(lambda y: function(y, 2.0).sum())(x)
    assert_close(gradient, 2.0 * (jnp.cos(x) * x + jnp.sin(x)), rtol=1e-6)


def test_a_scan_over_python_number_parameters_compiles_the_matrix_element_once(compilations):
    process = sm.process("e+ e- > mu+ mu-")
    e = 45.0
    momenta = jnp.array([[[e, 0, 0, e], [e, 0, 0, -e], [e, e, 0, 0], [e, -e, 0, 0]]], dtype=float)
    values = [process.matrix_element(momenta, StandardModel(mz=mz)) for mz in (90.0, 91.0)]
    first = len(compilations)
    values.append(process.matrix_element(momenta, StandardModel(mz=92.0)))
    assert len(compilations) == first
    assert values[0][0] != values[1][0] != values[2][0]


def test_hadronic_integrands_and_their_wrappers_declare_amplitude_kernels():
    integrand = HadronicIntegrand(sm.hadronic_process("p p > t t~"), pdf.load(), 13000.0, mu_f=FixedScale(173.0))
    channels = HadronicChannels.from_diagrams(integrand)
    for declared in (integrand, channels, EdgeMapped(channels, {1: 2.0}), SingleChannel(integrand, integrand.n_dims)):
        assert uses_amplitude_kernels(declared)
    toy = DrellYanZPrimeToy()
    for plain in (toy, EdgeMapped(toy, {1: 2.0}), SingleChannel(lambda r: r[:, 0], 2)):
        assert not uses_amplitude_kernels(plain)


class _Declared:
    amplitude_kernels = True


def test_kernel_jit_with_an_integrand_uses_the_options_only_when_it_declares_kernels(monkeypatch):
    """Seen through an option XLA rejects: only the declared integrand's program gets it."""
    monkeypatch.setattr(kernel_compilation, "kernel_compiler_options", lambda backend=None: {"xla_no_such_option": True})

    @kernel_jit(integrand="integrand")
    def program(x, integrand):
        return 2.0 * x

    assert_close(program(jnp.ones(3), lambda r: r), 2.0 * jnp.ones(3), rtol=0.0)
    with pytest.raises(Exception, match="No such compile option"):
        program(jnp.ones(3), integrand=_Declared())
    assert_close(jax.jit(lambda x: program(x, _Declared()))(jnp.ones(3)), 2.0 * jnp.ones(3), rtol=0.0)
