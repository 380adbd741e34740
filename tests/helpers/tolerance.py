"""The one tolerance helper of the test suite.

Every comparison states its tolerance in the test; this module only does the comparing
(with a message that names the worst element) and the statistical 5σ check.
"""

import numpy as np

__all__ = ["assert_close", "assert_within_sigma", "central_difference"]


def assert_close(actual, expected, *, rtol: float = 0.0, atol: float = 0.0, what: str = ""):
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def assert_within_sigma(estimate, error, exact, *, n_sigma: float = 5.0, what: str = ""):
    """Assert a Monte Carlo estimate lies within ``n_sigma`` standard errors of the exact value."""
    estimate, error, exact = (np.asarray(v, dtype=float) for v in (estimate, error, exact))
    pull = np.abs(estimate - exact) / error
    if not np.all(np.isfinite(pull)) or np.any(pull > n_sigma):
        raise AssertionError(
            f"{what}: estimate {estimate} ± {error} vs exact {exact}, pull {pull} > {n_sigma}σ"
        )


def central_difference(f, x, eps: float = 1e-6):
    """Central finite-difference gradient of scalar ``f`` at float64 array ``x``."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps * max(1.0, abs(x[index]))
        grad[index] = (float(f(x + step)) - float(f(x - step))) / (2 * step[index])
    return grad
