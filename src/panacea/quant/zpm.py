"""Zero-point manipulation (ZPM, paper section III-C, eq. 7).

Asymmetric quantization centres an activation distribution on its zero point ``z``, but the skip
range of the AQS-GEMM is the HO-slice bin ``[r * 2^l, (r + 1) * 2^l - 1]`` that contains ``z``
(``r = z >> l``, ``l`` = the HO slice's bit position). When ``z`` sits near a bin edge, half of the
values spill into the neighbouring bin and their HO slices are not compressible. ZPM moves the zero
point to the middle of its bin (our reading of eq. 7, whose
typeset form the paper's text loses; it is the one that keeps ``r`` and centres the bin):

    z' = floor(z / 2^l) * 2^l + 2^(l-1)

so the distribution, which follows the zero point, is centred in the skip range. ``r`` is
unchanged. The sparsity-searching variant lives with the calibration flow.
"""

from __future__ import annotations

from panacea.core.checks import check_int_range
from panacea.core.formats import act_qmax, ho_shift


def zpm_zero_point(zero_point: int, *, lo_bits: int = 4, x_bits: int = 8) -> int:
    """The manipulated zero point ``z'`` of eq. 7 for a DBS type (``lo_bits``) and activation width.

    ``z'`` has its ``lo_bits - 4`` LSBs clear (``2^(l-1)`` is a multiple of ``2^(lo_bits-4)``), so
    DBS's dropped LSBs never move the zero point itself. The result is always in range.
    """
    qmax = act_qmax(x_bits)
    z = check_int_range("zero_point", zero_point, 0, qmax)
    hs = ho_shift(x_bits, lo_bits)
    return min((z >> hs << hs) + (1 << (hs - 1)), qmax)
