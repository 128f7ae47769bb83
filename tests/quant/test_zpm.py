"""Zero-point manipulation (eq. 7)."""

from __future__ import annotations

import pytest

from panacea.core.slicing import ho_shift
from panacea.quant import zpm_zero_point


@pytest.mark.parametrize("x_bits", [8, 12])
@pytest.mark.parametrize("lo_bits", [4, 5, 6])
def test_zpm_moves_every_zero_point_to_the_middle_of_its_bin(x_bits, lo_bits):
    hs = ho_shift(x_bits, lo_bits)
    for z in range(2**x_bits):
        z2 = zpm_zero_point(z, lo_bits=lo_bits, x_bits=x_bits)
        assert z2 >> hs == z >> hs  # same HO slice r: the skip range does not move
        assert z2 % (1 << hs) == 1 << (hs - 1)  # its middle
        assert z2 % (1 << (lo_bits - 4)) == 0  # DBS's dropped LSBs never touch it
        assert abs(z2 - z) <= 1 << (hs - 1)


def test_zpm_paper_example():
    # type 1: bins of 16; z = 0x35 (bin 3, [48, 63]) -> 56
    assert zpm_zero_point(0x35) == 56
    assert zpm_zero_point(0x35, lo_bits=5) == 48  # type 2: bin [32, 63] -> 48


def test_zpm_rejects_bad_input():
    with pytest.raises(ValueError, match=r"zero_point must be in \[0, 255\]"):
        zpm_zero_point(300)
    with pytest.raises(ValueError, match="lo_bits must be one of"):
        zpm_zero_point(3, lo_bits=7)
