"""Shared test set-up: hypothesis profile and generators of realistic integer GEMM operands."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

# Hermetic: no test touches the network. Set before anything imports huggingface_hub (it reads the
# variable once); without it, a hub id that cannot be had costs retries with back-off (23 s here)
# whose length and error depend on the network of the day.
os.environ["HF_HUB_OFFLINE"] = "1"
# The benchmark scripts import their shared helpers (``_timing``) from their own folder, as they do
# when run as scripts; tests/benchmarks loads them from files.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from panacea.core.slicing import ho_shift, sbr_zero_top_range

# The profile of `make test` and CI ("panacea") is derandomized: every property test draws the same
# examples on every machine and every run (a seed fixed per test), and no example database is read or
# written, so a local database cannot change what CI runs. A suite that passed once passes again;
# a failure is a change in the code, never a new draw. No deadline: unit tests never carry a
# wall-clock limit (speed lives in benchmarks/).
#
# The "thorough" profile is the wide random search, for a soak run by hand: a fresh seed each run,
# 3,000 examples per test, failures saved in the local database (.hypothesis/) and replayed first.
#
#     HYPOTHESIS_PROFILE=thorough python -m pytest -p no:randomly tests/core/test_intmm*.py tests/quant
#
# Every failing example a soak finds becomes an explicit @example(...) beside its test (with the fix),
# so the derandomized suite checks it from then on.
settings.register_profile(
    "panacea",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("panacea"),
    max_examples=3000,
    derandomize=False,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "panacea"))

MODES = ("clustered", "uniform", "all_compressed", "none_compressed")


def _uniform(gen: torch.Generator, shape: tuple[int, ...], lo: int, hi: int) -> torch.Tensor:
    return torch.randint(lo, hi + 1, shape, generator=gen)


def _outside(gen: torch.Generator, shape: tuple[int, ...], lo: int, hi: int, gap: tuple[int, int]) -> torch.Tensor:
    """Uniform values in ``[lo, hi]`` minus the interval ``gap`` (which must leave something)."""
    below, above = max(gap[0] - lo, 0), max(hi - gap[1], 0)
    u = _uniform(gen, shape, 0, below + above - 1)
    return torch.where(u < below, lo + u, gap[1] + 1 + (u - below))


def activations(gen: torch.Generator, shape, *, bits: int, zero_point: int, lo_bits: int, mode: str) -> torch.Tensor:
    """Unsigned activations shaped like asymmetric quantization's output around ``zero_point``."""
    x_max = 2**bits - 1
    hs = ho_shift(bits, lo_bits)
    bin_lo = (zero_point >> hs) << hs
    skip = (bin_lo, bin_lo + (1 << hs) - 1)
    if mode == "all_compressed":
        return _uniform(gen, shape, *skip)
    if mode == "none_compressed":
        return _outside(gen, shape, 0, x_max, skip)
    if mode == "uniform":
        return _uniform(gen, shape, 0, x_max)
    spread = float(2 ** (hs - 2))  # mostly inside the skip range, with tails and outliers
    x = zero_point + torch.round(torch.randn(shape, generator=gen) * spread).long()
    outliers = torch.rand(shape, generator=gen) < 0.05
    x = torch.where(outliers, _uniform(gen, shape, 0, x_max), x)
    return x.clamp(0, x_max)


def weights(gen: torch.Generator, shape, *, bits: int, mode: str) -> torch.Tensor:
    """Narrow-range symmetric weights: mostly small (sparse top slices) unless told otherwise."""
    q = 2 ** (bits - 1) - 1
    zero_top = sbr_zero_top_range(bits) if bits > 4 else (-q, q)
    if mode == "all_compressed":
        return _uniform(gen, shape, max(zero_top[0], -q), min(zero_top[1], q))
    if mode == "none_compressed" and bits > 4:
        return _outside(gen, shape, -q, q, zero_top)
    if mode in ("uniform", "none_compressed"):
        return _uniform(gen, shape, -q, q)
    w = torch.round(torch.randn(shape, generator=gen) * (zero_top[1] + 1) / 2).long()
    outliers = torch.rand(shape, generator=gen) < 0.05
    return torch.where(outliers, _uniform(gen, shape, -q, q), w).clamp(-q, q)


@dataclass(frozen=True)
class AqsCase:
    x: torch.Tensor
    w: torch.Tensor
    zero_point: int
    w_bits: int
    x_bits: int
    lo_bits: int
    vector: int
    index_bits: int
    mode: str
    groups: int = 1

    @property
    def kwargs(self) -> dict[str, int]:
        return dict(
            w_bits=self.w_bits,
            x_bits=self.x_bits,
            lo_bits=self.lo_bits,
            vector=self.vector,
            index_bits=self.index_bits,
            groups=self.groups,
        )


def _dtype_for(draw, signed: bool, bits: int) -> torch.dtype:
    options = [torch.int16, torch.int32, torch.int64]
    if bits <= 8:
        options.insert(0, torch.int8 if signed else torch.uint8)
    return draw(st.sampled_from(options))


@st.composite
def aqs_cases(draw, max_dim: int = 24) -> AqsCase:
    w_bits = draw(st.sampled_from([4, 7, 10]))
    x_bits = draw(st.sampled_from([8, 12]))
    lo_bits = draw(st.sampled_from([4, 5, 6]))
    x_max = 2**x_bits - 1
    zero_point = draw(st.one_of(st.sampled_from([0, 1, x_max - 1, x_max]), st.integers(0, x_max)))
    n, m, k = (draw(st.integers(1, max_dim)) for _ in range(3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    k = max(1, k // groups) * groups
    mode = draw(st.sampled_from(MODES))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    x = activations(gen, (n, k), bits=x_bits, zero_point=zero_point, lo_bits=lo_bits, mode=mode)
    w = weights(gen, (m, k), bits=w_bits, mode=mode)
    return AqsCase(
        x=x.to(_dtype_for(draw, False, x_bits)),
        w=w.to(_dtype_for(draw, True, w_bits)),
        zero_point=zero_point,
        w_bits=w_bits,
        x_bits=x_bits,
        lo_bits=lo_bits,
        vector=draw(st.integers(1, 8)),
        index_bits=draw(st.integers(2, 8)),
        mode=mode,
        groups=groups,
    )


@dataclass(frozen=True)
class SibiaCase:
    x: torch.Tensor
    w: torch.Tensor
    bits: int
    x_bits: int
    vector: int
    index_bits: int
    mode: str
    groups: int = 1

    @property
    def kwargs(self) -> dict[str, int]:
        return dict(
            bits=self.bits, x_bits=self.x_bits, vector=self.vector, index_bits=self.index_bits, groups=self.groups
        )


@st.composite
def sibia_cases(draw, max_dim: int = 24) -> SibiaCase:
    bits = draw(st.sampled_from([4, 7, 10]))
    x_bits = draw(st.sampled_from([bits, bits, 4, 7, 10]))
    n, m, k = (draw(st.integers(1, max_dim)) for _ in range(3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    k = max(1, k // groups) * groups
    mode = draw(st.sampled_from(MODES))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    x = weights(gen, (n, k), bits=x_bits, mode=mode)  # symmetric activations: the same SBR format
    w = weights(gen, (m, k), bits=bits, mode=draw(st.sampled_from(MODES)))
    return SibiaCase(
        x=x.to(_dtype_for(draw, True, x_bits)),
        w=w.to(_dtype_for(draw, True, bits)),
        bits=bits,
        x_bits=x_bits,
        groups=groups,
        vector=draw(st.integers(1, 8)),
        index_bits=draw(st.integers(2, 8)),
        mode=mode,
    )


# --------------------------------------------------------------------------- panacea reproduce

REPRODUCE_TINY = ["--tokens", "64", "--calib-tokens", "64", "--seqlen", "32", "--batch-size", "2"]


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """A tiny config-built Llama saved as a model directory (for runs through the CLI)."""
    from tiny_models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_reproduction(tiny_llama_dir, tmp_path_factory):
    """(output directory, console output) of `panacea reproduce` on the tiny Llama, every assumption
    varied: shared by tests/reproduce (a run takes about 30 s)."""
    from typer.testing import CliRunner

    from panacea.cli import app

    out = tmp_path_factory.mktemp("reproduce")
    result = CliRunner().invoke(app, ["reproduce", tiny_llama_dir, *REPRODUCE_TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output
