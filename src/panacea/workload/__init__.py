"""The contract between the model side and the hardware side: :class:`Workload` (a bit-slice GEMM)
and :class:`AQWorkload` (an arbitrarily quantized one), which the cost models read.

This package's top level holds only the types (:mod:`panacea.workload.types`, which run no kernel);
the builders that count a GEMM are :mod:`panacea.workload.build`, the file format
:mod:`panacea.workload.codec`.
"""

from panacea.workload.types import AQWorkload, Workload

__all__ = ["AQWorkload", "Workload"]
