"""panacea: the Panacea accelerator (HPCA 2025) in software.

Asymmetric bit-slice quantization, the bit-exact AQS-GEMM with its compensation term, Sibia's
bit-slice GEMM, and the pieces the accelerator cost models are built on.
"""

from importlib.metadata import PackageNotFoundError, version

from panacea import quant
from panacea.core import rle, slicing
from panacea.gemm import GemmCounts, GemmResult, PackedWeights, aqs_gemm, bitslice_gemm, pack_weights
from panacea.models import find_gemms
from panacea.quant import CalibrationConfig, QuantRecipe, calibrate, capture, quantize, quantized
from panacea.workload import Workload

try:
    __version__ = version("panacea")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "CalibrationConfig",
    "GemmCounts",
    "GemmResult",
    "PackedWeights",
    "QuantRecipe",
    "Workload",
    "__version__",
    "aqs_gemm",
    "bitslice_gemm",
    "calibrate",
    "capture",
    "find_gemms",
    "pack_weights",
    "quant",
    "quantize",
    "quantized",
    "rle",
    "slicing",
]
