"""Quantization primitives and the two pure rules of the paper (ZPM, DBS)."""

from panacea.core.formats import ACT_BITS, WEIGHT_BITS, act_qmax, weight_qmax
from panacea.quant.calibrate import calibrate, calibrate_many
from panacea.quant.capture import LayerCapture, Recorder, capture
from panacea.quant.config import CalibrationConfig, LayerOverride
from panacea.quant.dbs import dbs_lo_bits, dbs_truncation_bias, dbs_type, skip_range_share
from panacea.quant.inference import QuantizedGemm, dequantize_gemm, quantize, quantized
from panacea.quant.observers import ActivationObserver
from panacea.quant.primitives import (
    asymmetric_qparams,
    dequantize_asymmetric,
    dequantize_symmetric,
    quantize_asymmetric,
    quantize_symmetric,
    symmetric_scale,
)
from panacea.quant.recipe import LayerRecipe, QuantRecipe
from panacea.quant.zpm import zpm_zero_point

__all__ = [
    "ACT_BITS",
    "WEIGHT_BITS",
    "ActivationObserver",
    "CalibrationConfig",
    "LayerCapture",
    "LayerOverride",
    "LayerRecipe",
    "QuantRecipe",
    "QuantizedGemm",
    "Recorder",
    "act_qmax",
    "asymmetric_qparams",
    "calibrate",
    "calibrate_many",
    "capture",
    "dbs_lo_bits",
    "dbs_truncation_bias",
    "dbs_type",
    "dequantize_asymmetric",
    "dequantize_gemm",
    "dequantize_symmetric",
    "quantize",
    "quantize_asymmetric",
    "quantize_symmetric",
    "quantized",
    "skip_range_share",
    "symmetric_scale",
    "weight_qmax",
    "zpm_zero_point",
]
