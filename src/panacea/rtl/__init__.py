"""Panacea's PE array as hardware: Amaranth descriptions of its datapath units, simulated against
the integer model, synthesized with Yosys (from PyPI) for gate counts and area.

- :mod:`panacea.rtl.units`: the outer-product calculator (OPC) of ``v x v`` 4b x 4b
  sign-unsigned multipliers that every DWO and SWO is (Section IV, Fig. 11), the compensator
  (eq. 6) and the shift-accumulator (S-ACC, with DBS's shift), each sized from its parameters.
- :mod:`panacea.rtl.check`: simulation of a unit on operand vectors against the arithmetic it
  must compute (mismatches listed, never silently passed).
- :mod:`panacea.rtl.synth`: Yosys synthesis in a subprocess (cell counts, gate equivalents and
  um2 under a stated table), netlist-vs-design equivalence, Verilog export.
"""
