"""Compiler settings for programs dominated by the amplitude kernels.

XLA's CPU backend has two code generators for fused element-wise loops: the newer "fusion
emitters" (the default of the jax 0.10 series used here) and the older loop emitters
(``xla_cpu_use_fusion_emitters=False``). The helicity-amplitude kernels
(:mod:`diffsim.amplitudes`) are thousands of element-wise operations on split real and
imaginary parts; XLA's fusion pass copies the cheap producers into every consumer (the
``g g > t t~ g`` program grows from 6 × 10³ to 4 × 10⁴ instructions, 12 × 10³ to 8 × 10⁴
with its parameter derivatives), and the newer emitters take longer to compile that and
run it slower. Measured on one core of this project's CPU machine (jax 0.10.2, batch
2 × 10⁴; default settings → these):

- ``e+ e- > mu+ mu-``: value 9.1 → 3.8 ms, value-and-gradient w.r.t. the model inputs
  18.5 → 11.3 ms; compile 1.9 → 1.1 s and 4.7 → 3.2 s;
- ``e+ e- > t t~``: 14.7 → 5.0 ms, 56.8 → 22.9 ms; compile 2.3 → 1.4 s, 5.9 → 4.2 s;
- ``g g > t t~``: 9.2 → 7.0 ms, 30.1 → 27.5 ms; compile 1.9 → 1.3 s, 4.7 → 3.1 s;
- ``g g > t t~ g``: 260 → 200 ms, 1274 → 924 ms; compile 10.9 → 7.1 s, 50.5 → 20.2 s;
- the hadronic ``p p > t t~`` integrand (PDFs, phase space, |M|², batch 10⁵): 265 → 200 ms,
  its value and gradient w.r.t. the point 1649 → 1503 ms; compile 5.4 → 3.3 s, 28 → 18 s.

``benchmarks/matrix_elements.py`` measures every process both ways.

Programs dominated by the normalizing flows are the other way round (the Drell–Yan toy's
flow training took 1.3 times the CPU time with these settings), so they are not a global
switch: :func:`kernel_jit` compiles one program with them. diffsim uses it where the
integrand is the program: :class:`diffsim.models.Process`'s evaluations called outside a
``jit``, VEGAS iterations, flat Monte Carlo and the per-event VEGAS proposals of the matrix
element method (``examples/top_pairs.py``: 22.0 → 17.9 CPU s; VEGAS on the cheap benchmark
toys is unchanged within 10 %); and for the flows' training steps and draws when the
integrand declares that its amplitude kernels dominate (:func:`uses_amplitude_kernels`, as
the hadronic integrands do: pathwise multi-channel training, 10⁶ calls, compiles in 48
instead of 76 s for ``p p > t t~`` and 127 instead of 195 s for ``p p > e+ e-``, and
trains as fast once compiled). A ``jit`` inside another is inlined into the outer program
and compiled with the outer one's settings, so compile a likelihood or fit step that is
mostly matrix elements with :func:`kernel_jit` too (``examples/mem_zprime_fit.py``, 50
events: fit 62 → 53 s, scan 24 → 19 s). Other backends compile with their defaults.
"""

import functools
import inspect
import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.extend.core import get_opaque_trace_state

__all__ = ["kernel_compiler_options", "kernel_jit", "uses_amplitude_kernels"]

_OPTIONS = {"cpu": {"xla_cpu_use_fusion_emitters": False}}


def kernel_compiler_options(backend: str | None = None) -> dict[str, object] | None:
    """The XLA options of :func:`kernel_jit` on ``backend`` (default: JAX's default
    backend), for ``jax.jit(..., compiler_options=...)``; ``None`` where the backend's
    defaults are kept, also (with a warning, once) where this XLA no longer knows them."""
    backend = jax.default_backend() if backend is None else backend
    if backend not in _OPTIONS or not _accepted(backend):
        return None
    return dict(_OPTIONS[backend])


@functools.cache
def _accepted(backend: str) -> bool:
    """Whether XLA compiles a trivial program on ``backend`` with its options."""
    try:
        x = jax.device_put(jnp.zeros(()), jax.devices(backend)[0])
        jax.jit(lambda y: y + 1, compiler_options=_OPTIONS[backend]).lower(x).compile()
    except jax.errors.JaxRuntimeError as error:
        warnings.warn(f"XLA rejects diffsim's amplitude-kernel settings {_OPTIONS[backend]} ({error}); "
                      "compiling with its defaults", RuntimeWarning, stacklevel=3)
        return False
    return True


def uses_amplitude_kernels(integrand) -> bool:
    """Whether ``integrand`` declares, by a true ``amplitude_kernels`` attribute, that the
    amplitude kernels dominate its evaluation (:class:`diffsim.hadronic.HadronicIntegrand`
    does; wrappers such as :class:`diffsim.channels.EdgeMapped` pass on their integrand's
    answer)."""
    return bool(getattr(integrand, "amplitude_kernels", False))


def kernel_jit(fun: Callable | None = None, *, integrand: str | None = None) -> Callable:
    """``eqx.filter_jit(fun)``, compiled with :func:`kernel_compiler_options` of the default
    backend when called outside any JAX transformation; inside one (an outer ``jit``,
    ``grad``, ``vmap``) the options are left out, as JAX takes them only for a top-level
    ``jit``, and an outer ``jit``'s settings would apply anyway.

    With ``integrand`` (the name of one of ``fun``'s parameters), the options are used only
    when that argument :func:`uses_amplitude_kernels`: for programs such as a flow's training
    step, where either the integrand or the flow may dominate. Usable as ``@kernel_jit`` and
    ``@kernel_jit(integrand="integrand")``.
    """
    if fun is None:
        return functools.partial(kernel_jit, integrand=integrand)
    signature = inspect.signature(fun) if integrand is not None else None
    compiled = {}

    @functools.wraps(fun)
    def call(*args, **kwargs):
        backend = jax.default_backend()
        kernel = get_opaque_trace_state() == _TOP_LEVEL
        if kernel and signature is not None:
            kernel = uses_amplitude_kernels(signature.bind(*args, **kwargs).arguments[integrand])
        if (backend, kernel) not in compiled:
            options = kernel_compiler_options(backend) if kernel else None
            compiled[backend, kernel] = eqx.filter_jit(fun, compiler_options=options)
        return compiled[backend, kernel](*args, **kwargs)

    return call


_TOP_LEVEL = get_opaque_trace_state()
"""The trace outside every transformation (one evaluation trace, shared by all threads)."""
