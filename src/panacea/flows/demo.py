"""``panacea gemm-demo``: one GPT-2-sized layer through Sibia's GEMM and the AQS-GEMM.

The layer is GPT-2's MLP up-projection (``c_fc``: K = 768, M = 3072) at 1024 tokens, with
synthetic data shaped like the real thing: its input is a LayerNorm output (a bulk around zero,
per-channel gains and biases, and a few outlier channels with large magnitudes that make the
min/max range lopsided, as transformer activations have) and its weights are heavy-tailed.

(On a one-sided distribution such as the GELU output feeding ``c_proj``, the paper's ZPM rule,
which centres the zero point in its HO bin, can lower sparsity; the calibration flow offers a
search-based variant for that case.) The same float data is quantized
four ways, the way the paper compares them (Fig. 14, Fig. 18):

- Sibia: symmetric 7-bit activations and weights, zero-skipping of the sparser operand;
- AQS: asymmetric 8-bit activations (min/max range), 7-bit per-channel weights;
- AQS + ZPM: the zero point moved to the middle of its HO bin (eq. 7);
- AQS + ZPM + DBS: the DBS type picked from the quantized activations' sigma, then ZPM for it.

Every integer output is checked against an independent dense product (float64 GEMM, exact here:
all partial sums are integers below 2^53). Real models come with the calibration flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from panacea.core.slicing import dbs_truncate
from panacea.gemm import GemmCounts, aqs_gemm, bitslice_gemm
from panacea.quant import (
    asymmetric_qparams,
    dbs_lo_bits,
    dbs_truncation_bias,
    dbs_type,
    quantize_asymmetric,
    quantize_symmetric,
    symmetric_scale,
    zpm_zero_point,
)


@dataclass(frozen=True)
class DemoRow:
    scheme: str
    exact: bool
    counts: GemmCounts
    rel_error: float  # ||y_q - y_fp32|| / ||y_fp32|| after dequantization


@dataclass(frozen=True)
class DemoReport:
    tokens: int
    in_features: int
    out_features: int
    zero_point: int
    zpm_zero_point: int
    lo_bits: int
    rows: list[DemoRow]


def synthetic_layer(tokens: int, in_features: int, out_features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """LayerNorm-like float activations with outlier channels, and heavy-tailed weights.

    Channel gains ~ U(0.5, 1.5) and biases ~ N(0, 0.3); 0.5% of the channels are outliers with
    gain 8 and bias +-10.
    """
    gen = torch.Generator().manual_seed(seed)
    gain = 0.5 + torch.rand(in_features, generator=gen)
    bias = 0.3 * torch.randn(in_features, generator=gen)
    outliers = torch.rand(in_features, generator=gen) < 0.005
    gain[outliers] = 8.0
    bias[outliers] = 10.0 * torch.sign(torch.randn(int(outliers.sum()), generator=gen))
    x = torch.randn(tokens, in_features, generator=gen) * gain + bias
    # Student-t (4 degrees of freedom) weights: Gaussian / sqrt(chi2 / 4), scaled like GPT-2's.
    chi2 = torch.randn(out_features, in_features, 4, generator=gen).pow(2).sum(-1)
    w = 0.02 * torch.randn(out_features, in_features, generator=gen) / torch.sqrt(chi2 / 4)
    return x, w


def _dense(x_q: torch.Tensor, w_q: torch.Tensor) -> torch.Tensor:
    return (x_q.to(torch.float64) @ w_q.to(torch.float64).T).to(torch.int64)


def _rel_error(y: torch.Tensor, ref: torch.Tensor) -> float:
    return float(torch.linalg.norm(y - ref) / torch.linalg.norm(ref))


def run_gemm_demo(tokens: int = 1024, in_features: int = 768, out_features: int = 3072, seed: int = 0) -> DemoReport:
    x, w = synthetic_layer(tokens, in_features, out_features, seed)
    y_fp32 = x @ w.T
    w_scale = symmetric_scale(w, 7)
    w_q = quantize_symmetric(w, w_scale, 7)
    w_row = w_q.to(torch.float32).sum(dim=1)
    rows = []

    # Sibia: symmetric activations, signed 7-bit (narrow range), per-tensor scale.
    xs_scale = float(x.abs().max()) / 63
    xs_q = torch.clamp(torch.round(x / xs_scale), -63, 63).to(torch.int8)
    res = bitslice_gemm(xs_q, w_q)
    y = res.output.to(torch.float32) * xs_scale * w_scale.T
    rows.append(
        DemoRow("Sibia, sym W7A7", torch.equal(res.output, _dense(xs_q, w_q)), res.counts, _rel_error(y, y_fp32))
    )

    scale, z = asymmetric_qparams(float(x.min()), float(x.max()), 8)

    def asym(label: str, zero_point: int, lo_bits: int) -> torch.Tensor:
        x_q = quantize_asymmetric(x, scale, zero_point, 8)
        res = aqs_gemm(x_q, w_q, zero_point, lo_bits=lo_bits)
        exact = torch.equal(res.output, _dense(dbs_truncate(x_q, lo_bits), w_q))
        # dequantize: y = s_x s_w (acc - z * sum_k w), the zero-point term being the folded bias;
        # DBS's average truncation loss is a constant that folds into the same term.
        offset = zero_point - dbs_truncation_bias(lo_bits)
        y = (res.output.to(torch.float32) - offset * w_row) * scale * w_scale.T
        rows.append(DemoRow(label, exact, res.counts, _rel_error(y, y_fp32)))
        return x_q

    x_q = asym("AQS, asym W7A8", z, 4)
    z_zpm = zpm_zero_point(z, lo_bits=4)
    asym("AQS +ZPM", z_zpm, 4)
    sigma = float(x_q.to(torch.float32).std())
    lo_bits = dbs_lo_bits(sigma)
    z_dbs = zpm_zero_point(z, lo_bits=lo_bits)
    asym(f"AQS +ZPM +DBS type {dbs_type(lo_bits)}", z_dbs, lo_bits)
    return DemoReport(tokens, in_features, out_features, z, z_zpm, lo_bits, rows)
