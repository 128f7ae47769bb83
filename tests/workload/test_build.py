"""The builders: synthetic workloads have exactly the asked sparsities and the counts real data would
give; another RLE index width from the masks equals capturing again."""

from __future__ import annotations

import pytest
import torch
from conftest import AqsCase, SibiaCase, aqs_cases, sibia_cases
from hypothesis import given
from hypothesis import strategies as st

import panacea
from panacea.workload.build import gemm_workload, synthetic_workload, with_index_bits


def _realize(stored: torch.Tensor, rows: int, vector: int, background: int, outlier: int) -> torch.Tensor:
    """Integers whose top-slice vector mask is ``stored``: ``background`` everywhere, ``outlier`` in
    the first lane of every stored vector."""
    x = torch.full((rows, stored.shape[1]), background)
    first = torch.zeros((stored.shape[0] * vector, stored.shape[1]), dtype=torch.bool)
    first[::vector] = stored
    x[first[:rows]] = outlier
    return x


@given(
    n=st.integers(1, 20),
    k=st.integers(1, 20),
    m=st.integers(1, 20),
    act_sparsity=st.sampled_from([0.0, 0.3, 0.95, 1.0]),
    weight_sparsity=st.sampled_from([0.0, 0.5, 1.0]),
    vector=st.integers(1, 6),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 100),
)
def test_synthetic_counts_are_those_of_real_data_with_the_same_masks(
    n, k, m, act_sparsity, weight_sparsity, vector, groups, seed
):
    opts = dict(act_sparsity=act_sparsity, weight_sparsity=weight_sparsity, vector=vector, groups=groups, seed=seed)
    asym = synthetic_workload(n, k, m, **opts)
    assert asym.act_stored.shape == (-(-n // vector), groups * k)
    compressed = (~asym.act_stored).sum().item()
    assert compressed == round(act_sparsity * asym.act_stored.numel())
    w = _realize(asym.weight_stored, m, vector, 0, 63)
    x = _realize(asym.act_stored, n, vector, 128, 0)
    assert gemm_workload(x, w, 128, vector=vector, groups=groups).counts == asym.counts
    sym = synthetic_workload(n, k, m, scheme="sym", **opts)
    xs = _realize(sym.act_stored, n, vector, 0, -63)
    ws = _realize(sym.weight_stored, m, vector, 0, 63)
    assert panacea.bitslice_gemm(xs, ws, vector=vector, groups=groups).counts == sym.counts


def test_gemm_workload_matches_its_gemm():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(100, 160, (10, 24), generator=gen)
    w = torch.randint(-20, 21, (6, 24), generator=gen)
    wl = gemm_workload(x, w, 130, lo_bits=5, groups=2, name="fc")
    assert (wl.n, wl.k, wl.m, wl.groups, wl.scheme, wl.name) == (10, 12, 6, 2, "asym", "fc")
    assert wl.counts == panacea.aqs_gemm(x, w, 130, lo_bits=5, groups=2).counts
    assert wl.macs == 2 * 10 * 6 * 12
    packed = panacea.pack_weights(w, bits=7)
    shared = gemm_workload(x, packed, 130, lo_bits=5, groups=2, name="fc")  # the mask is shared, not rebuilt
    assert shared.weight_stored is packed.mask.stored
    for field in wl.__dataclass_fields__:
        a, b = getattr(wl, field), getattr(shared, field)
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, field


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"act_sparsity": 1.5}, "act_sparsity"),
        ({"weight_sparsity": -0.1}, "weight_sparsity"),
        ({"scheme": "int4"}, "scheme"),
        ({"x_bits": 9}, "x_bits"),
        ({"zero_point": 256}, "zero_point"),
        ({"w_bits": 8}, "w_bits"),
    ],
)
def test_synthetic_workload_rejects_bad_arguments(kwargs, message):
    args = {"act_sparsity": 0.5, "weight_sparsity": 0.5} | kwargs
    with pytest.raises(ValueError, match=message):
        synthetic_workload(8, 8, 8, **args)


def _same(a, b) -> None:
    assert a.counts == b.counts and a.index_bits == b.index_bits
    assert torch.equal(a.act_stored, b.act_stored) and torch.equal(a.weight_stored, b.weight_stored)


@given(aqs_cases(), st.integers(1, 16))
def test_another_index_width_from_the_masks_equals_capturing_again_asymmetric(case: AqsCase, index_bits):
    """What the sensitivity of `panacea reproduce` relies on: the counts of another RLE index width
    follow from the captured masks exactly, edges (all or no vector compressed, 1-bit indices) included."""
    opts = {**case.kwargs, "index_bits": case.index_bits}
    captured = gemm_workload(case.x, case.w, case.zero_point, **opts)
    again = gemm_workload(case.x, case.w, case.zero_point, **{**opts, "index_bits": index_bits})
    _same(with_index_bits(captured, index_bits), again)


@given(sibia_cases(), st.integers(1, 16))
def test_another_index_width_from_the_masks_equals_capturing_again_symmetric(case: SibiaCase, index_bits):
    opts = dict(w_bits=case.bits, x_bits=case.x_bits, vector=case.vector, groups=case.groups)
    captured = gemm_workload(case.x, case.w, None, index_bits=case.index_bits, **opts)
    _same(with_index_bits(captured, index_bits), gemm_workload(case.x, case.w, None, index_bits=index_bits, **opts))


def test_index_width_is_checked():
    w = synthetic_workload(8, 8, 8, act_sparsity=0.5, weight_sparsity=0.5)
    with pytest.raises(ValueError, match=r"index_bits must be in \[1, 16\], got 0"):
        with_index_bits(w, 0)
