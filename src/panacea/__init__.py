"""panacea: the Panacea accelerator (HPCA 2025) in software.

Asymmetric bit-slice quantization, the bit-exact AQS-GEMM with its compensation term, Sibia's
bit-slice GEMM, and the pieces the accelerator cost models are built on.
"""

from importlib.metadata import PackageNotFoundError, version

from panacea import quant, rle, slicing
from panacea.gemm import GemmCounts, GemmResult, PackedWeights, aqs_gemm, bitslice_gemm, pack_weights

try:
    __version__ = version("panacea")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "GemmCounts",
    "GemmResult",
    "PackedWeights",
    "__version__",
    "aqs_gemm",
    "bitslice_gemm",
    "pack_weights",
    "quant",
    "rle",
    "slicing",
]
