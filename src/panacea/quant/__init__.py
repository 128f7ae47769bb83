"""Quantization primitives and the two pure rules of the paper (ZPM, DBS)."""

from panacea.formats import ACT_BITS, WEIGHT_BITS, act_qmax, weight_qmax
from panacea.quant.dbs import dbs_lo_bits, dbs_truncation_bias, dbs_type, skip_range_share
from panacea.quant.primitives import (
    asymmetric_qparams,
    dequantize_asymmetric,
    dequantize_symmetric,
    quantize_asymmetric,
    quantize_symmetric,
    symmetric_scale,
)
from panacea.quant.zpm import zpm_zero_point

__all__ = [
    "ACT_BITS",
    "WEIGHT_BITS",
    "act_qmax",
    "asymmetric_qparams",
    "dbs_lo_bits",
    "dbs_truncation_bias",
    "dbs_type",
    "dequantize_asymmetric",
    "dequantize_symmetric",
    "quantize_asymmetric",
    "quantize_symmetric",
    "skip_range_share",
    "symmetric_scale",
    "weight_qmax",
    "zpm_zero_point",
]
