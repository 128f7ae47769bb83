"""The synthetic sweep reproduces the paper's qualitative Fig. 13."""

from __future__ import annotations

import csv

import pytest

from panacea.flows.sweep import SIZES, plot, sparsity_sweep, summary, write_csv


@pytest.fixture(scope="module")
def rows():
    return sparsity_sweep(SIZES, levels=(0.0, 0.5, 0.95))


def _tops(rows, size, design, sparsity, config="", dtp=False):
    (row,) = [
        r
        for r in rows
        if (r.size, r.design, r.config, r.dtp, r.weight_sparsity, r.act_sparsity)
        == (size, design, config, dtp, sparsity, sparsity)
    ]
    return row.tops


@pytest.mark.parametrize("size", list(SIZES))
def test_panacea_is_below_simd_when_dense_and_above_every_baseline_when_sparse(rows, size):
    pan = _tops(rows, size, "Panacea", 0.0, "4D+8S", True)
    assert pan < _tops(rows, size, "SIMD", 0.0)
    sparse = _tops(rows, size, "Panacea", 0.95, "4D+8S", True)
    for base in ("SA-WS", "SA-OS", "SIMD", "Sibia"):
        assert sparse > _tops(rows, size, base, 0.95)


def test_dtp_helps_at_high_sparsity_and_more_dwos_help_when_dense(rows):
    for size in SIZES:
        assert _tops(rows, size, "Panacea", 0.95, "4D+8S", True) > _tops(rows, size, "Panacea", 0.95, "4D+8S", False)
        assert _tops(rows, size, "Panacea", 0.0, "8D+4S", True) > _tops(rows, size, "Panacea", 0.0, "4D+8S", True)
    headline = summary(rows)
    assert headline["max speedup over SA-WS"] > 1
    assert headline["DTP gain at sparsity 0.95"] > 1
    assert headline["throughput vs SIMD at sparsity 0.0"] < 1


def test_every_point_is_written_and_plotted(rows, tmp_path):
    write_csv(rows, tmp_path / "sweep.csv")
    plot(rows, tmp_path / "sweep.png")
    with open(tmp_path / "sweep.csv") as f:
        written = list(csv.DictReader(f))
    # per size: 3 dense baselines + Sibia + 4 Panacea variants, at 3 x 3 sparsity pairs
    assert len(written) == len(rows) == 2 * 8 * 9
    assert (tmp_path / "sweep.png").read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob("*.tmp*"))


def test_empty_sweeps_are_refused():
    with pytest.raises(ValueError, match="levels must not be empty"):
        sparsity_sweep(SIZES, levels=())


def test_the_sweep_gives_the_same_rows_in_this_process_on_a_pool_and_on_ray():
    from panacea.flows.executors import LocalExecutor, RayExecutor

    sizes, levels = {"tiny": (32, 64, 64)}, (0.0, 0.9)
    here = sparsity_sweep(sizes, levels)
    assert sparsity_sweep(sizes, levels, executor=LocalExecutor(2)) == here
    assert sparsity_sweep(sizes, levels, executor=RayExecutor(jobs=2)) == here
