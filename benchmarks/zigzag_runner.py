"""Run ZigZag (PyPI ``zigzag-dse``, KU Leuven) on one GEMM mapped onto the SA-OS / SA-WS systolic arrays.

A child process for a benchmark in the project environment: it runs where ZigZag is installed,
imports nothing from ``panacea`` (stdlib and ``zigzag`` only), reads one JSON object on stdin and
writes one JSON object on stdout.

    python3 -m venv /tmp/zz && /tmp/zz/bin/pip install zigzag-dse==3.9.1 six
    /tmp/zz/bin/python benchmarks/zigzag_runner.py --example | /tmp/zz/bin/python benchmarks/zigzag_runner.py

(zigzag-dse 3.9.1 needs Python >= 3.11 and pulls numpy, networkx, sympy, matplotlib, onnx, tqdm,
multiprocessing_on_dill, pyyaml, cerberus, seaborn, typeguard: no torch, about 450 MB. Its parser
imports ``six`` without declaring it, hence ``six`` in the command.)
``--example`` prints an input; ``--timing`` adds the seconds ZigZag took to the output. A bad input
(a block that does not divide the folds, a mapping that overfills a memory, a missing key) exits
with status 2 and one line on stderr.

Input (sizes in the units named; every operand is 8 bits)::

    {"gemm": {"n": tokens, "k": K, "m": output channels},
     "array": {"rows": 32, "cols": 24, "dataflow": "os" | "ws"},
     "memory": {"wmem_kb": 96, "amem_kb": 64, "omem_kb": 32, "dram_bits_per_cycle": 256,
                "output_bits": 8, "accumulator_bits": 32},
     "energy": {"mac_pj": 0.111, "register_pj_per_bit": 0.004, "dram_pj_per_bit": 3.7,
                "wmem": {"read_pj_bit": .., "write_pj_bit": ..}, "amem": {..}, "omem": {..}},
     "mapping": null | {"outer": .., "block": ..} | {"loops": [..], "levels": {..}},
     "loma": {"lpf_limit": 6, "innermost": null}}     # optional, used when mapping is null

The spatial unrolling is fixed by the dataflow: OS tokens (N) over rows and output channels (M)
over cols, WS K over rows and M over cols; a partial fold is unrolled fractionally by ZigZag, so the
temporal extent of a dim is its fold count ``ceil(dim / unrolling)``. ``mapping``:

- ``null``: ZigZag's own temporal mapping search, LOMA with the energy objective over loop orders of
  at most ``loma.lpf_limit`` loop prime factors, each order allocated to the memories bottom-up by
  LOMA. Default 7: up to 10 s a GEMM on 2 cores; 6 takes 2-3 s but missed the best mapping of
  256 x 768 x 2304 on both arrays, 8 takes 35-70 s and found nothing better than 7 on the GEMMs
  tried. LOMA is not exhaustive: a blocking below beat it on WS 1024 x 768 x 768.
  ``loma.innermost`` (``"N"``, ``"K"`` or ``"M"``) requires the innermost temporal loop factor to
  be of that dim (``"N"`` on WS keeps the weights stationary in the PEs; unconstrained, LOMA may
  accumulate over K in the PE registers of the WS array, as an output-stationary array would).
- a blocking, the fields of ``panacea.hw.mapping.Mapping.as_dict()`` (others are ignored)::

      {"outer": "weights" | "activations", "block": b,
       "resident": true | false, "inner": "all" | "block" | "step", "tile_tokens": chunk}

  panacea's loop nest above the array, outer to inner: OS weights outer ``M_block (M folds / b) /
  N_fold / M_in_block (b) / K``; OS activations outer ``N_block / M_fold / N_in_block (b) / K``; WS
  (weights outer only) ``M_block / token chunk / K_fold / M_in_block (b) / tokens of the chunk``.
  ``resident``: the outer block (b folds) is loaded once and stays in its SRAM, else each step
  loads what it uses; ``inner``: the other operand is loaded once overall (``all``), once per
  outer block (``block``, its fold reused by the block's b steps) or by every step.
  ``tile_tokens`` (WS, or ``chunk``): the tokens whose ``b x cols`` partial sums OMEM holds. Left
  out, ``resident``, ``inner`` and ``tile_tokens`` follow from the capacities, single-buffered:
  ``resident`` if b folds fit, ``inner`` ``all`` if all of it fits, else ``block`` if one fold
  fits, else ``step``; the largest chunk whose partial sums fit OMEM and that divides n. ``b`` (and
  the chunk) must divide the fold count (n): ZigZag's loops have integer sizes. ``block = 1`` with
  the outer operand's folds resident is panacea's fixed mapping (``panacea.hw.systolic`` before the
  mapper), ``inner`` then as panacea chooses it.
- explicit loops::

      {"loops": [[dim, size], ...], "levels": {"W": [...], "I": [...], "O": [...]}}

  ``loops``: the temporal loops outer to inner (dims ``"N"``, ``"K"``, ``"M"``; per dim the sizes
  multiply to its fold count). ``levels[op][i]``: where operand ``op`` (``W`` weights, ``I``
  activations, ``O`` outputs) is kept across loop ``i``: ``"dram"``, ``"sram"`` (WMEM / AMEM / OMEM)
  or ``"reg"`` (the PE register), never rising from outer to inner loops. A loop at a level means
  that memory holds the operand's data for that loop and all loops inside it; it is refilled from
  the level above whenever a loop above it moves to new data. A blocking is expanded to this form
  (returned as ``mapping``). The runner rejects a mapping that overfills a memory.

Example, OS activations outer with b = 1 on 1024 x 768 x 768 (32 token folds, 32 column folds)::

    "mapping": {"outer": "activations", "block": 1}   # expands to
    "mapping": {"loops": [["N", 32], ["M", 32], ["N", 1], ["K", 768]],
                "levels": {"I": ["dram", "sram", "sram", "sram"],     # a token fold stays in AMEM
                           "W": ["dram", "dram", "sram", "sram"],     # a column fold per step
                           "O": ["dram", "dram", "dram", "reg"]}}     # accumulated in the PE

Output::

    {"energy_pj": {"total", "dram", "sram", "registers", "mac"},
     "dram_bits_read", "dram_bits_written",
     "accesses": {"wmem" | "amem" | "omem" | "dram" | "reg_w" | "reg_i" | "reg_o":
                  {"read_bits", "write_bits"}},
     "latency_cycles", "stall_cycles", "ideal_cycles", "onloading_cycles", "offloading_cycles",
     "accesses_by_operand": {op: {memory: {direction: {"bits", "elements", "precision"}}}},
     "temporal_mapping": ZigZag's mapping as text (per operand, memory levels bottom-up, loops
                         inner to outer, after ZigZag's merge of stationary loops),
     "loop_order": the temporal loops outer to inner (size-1 loops left out),
     "mapping": the loops + levels evaluated (with "blocking" when expanded) or null (LOMA),
     "seconds": with --timing}

Hardware as ZigZag sees it: ``rows x cols`` MAC units (``mac_pj`` each: one 8b x 8b multiply and
one accumulate), ``systolic_dimensions`` both array dimensions (ZigZag adds ``rows - 1 + cols - 1``
drain cycles once). Per PE: an 8-bit weight register, an 8-bit activation register and an
``accumulator_bits`` output register (OS: the accumulator; WS: the partial sum passed down the
column), priced ``register_pj_per_bit`` per bit read or written. WMEM holds weights only, AMEM
activations only, OMEM outputs (and WS partial sums), each priced per bit read / written and wide
enough never to stall (``rows x cols x accumulator_bits`` bits per cycle): SRAM bandwidth is not
modelled, as in panacea. DRAM holds all three with one ``dram_bits_per_cycle`` read/write port,
``dram_pj_per_bit`` per bit either way. Outputs leave the accumulators as ``output_bits``; WS
partial sums move between the array and OMEM as ``accumulator_bits``. Leakage and the PPU
(requantisation) are not modelled by ZigZag.

Bit counts in ``accesses`` are the bits ZigZag prices: per memory and direction, its transfer
amount per period x periods x memory instances x precision, before its rounding to whole words
(ZigZag prices ``bits / bandwidth`` accesses, truncated to an integer, at ``bandwidth x pj_per_bit``
each: a fraction of one word per memory and direction, which matters only for tiny GEMMs). Where
ZigZag's own element count (``accesses_by_operand[..]["elements"]``) is lower, the difference is
the first period of an output read-back (a partial sum read before it was ever written), which
ZigZag prices nonetheless. Energy is ZigZag's.

What ZigZag counts unlike ``panacea.hw.systolic`` (checked on GEMMs whose dims the array divides;
with the same loop nest DRAM, WMEM, AMEM and MAC counts are equal there):

- registers: ZigZag prices a read and a write of every register per use: OS 8b + 8b per operand
  register and 32b + 32b of the accumulator per MAC (96 b/MAC); WS 8b + 8b of the activation
  register and 4 x 32b of the partial-sum register (ZigZag reduces a column's K products in a
  spatial adder under OMEM, so every PE's partial sum is also read out to it and written back
  from it), plus the weight preload read and written. panacea counts one write per register per
  MAC (OS 16 b/MAC, no accumulator; WS 8 + 32 b/MAC) plus the preload. ZigZag's register *writes*
  from the array side (OS: weight + activation registers; WS: those + the partial sum written by
  the MAC) equal panacea's register bits exactly;
- WS OMEM: panacea also writes the 8-bit requantised output into OMEM (``n x m x output_bits``
  bits); ZigZag reads the final 8-bit output straight out of the partial sums;
- partial folds (N or M, WS K, not a multiple of the array): ZigZag unrolls them fractionally
  (e.g. 4096 over 24 columns as 171 folds of 23.95), which moves its counts a little off the
  exact ones (under 1 % at transformer sizes, up to 12 % on OMEM for tiny GEMMs);
- time: ZigZag counts ``K`` cycles per OS fold (``n`` per WS fold) plus one array drain, not
  SCALE-Sim's fill and drain per fold, and its own model of DRAM stalls (per memory port, from
  the data each loop level moves in its period).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import sys
import time
from typing import Any

LEVELS = ("reg", "sram", "dram")
MEM_NAMES = {"W": ["reg_w", "wmem", "dram"], "I": ["reg_i", "amem", "dram"], "O": ["reg_o", "omem", "dram"]}
ACCESS_NAMES = ("wmem", "amem", "omem", "dram", "reg_w", "reg_i", "reg_o")


def example() -> dict[str, Any]:
    """An input: the OS array with panacea's 28 nm constants (SRAM per bit as panacea interpolates)."""
    return {
        "gemm": {"n": 1024, "k": 768, "m": 768},
        "array": {"rows": 32, "cols": 24, "dataflow": "os"},
        "memory": {
            "wmem_kb": 96,
            "amem_kb": 64,
            "omem_kb": 32,
            "dram_bits_per_cycle": 256,
            "output_bits": 8,
            "accumulator_bits": 32,
        },
        "energy": {
            "mac_pj": 0.074 + 0.037,
            "register_pj_per_bit": 0.004,
            "dram_pj_per_bit": 3.7,
            "wmem": {"read_pj_bit": 0.08633777429452648, "write_pj_bit": 0.13000042788551888},
            "amem": {"read_pj_bit": 0.0887, "write_pj_bit": 0.1022},
            "omem": {"read_pj_bit": 0.0456, "write_pj_bit": 0.0801},
        },
        "mapping": {"outer": "activations", "block": 1},
    }


# ----------------------------------------------------------------------------------------------
# Hardware, workload and spatial mapping as ZigZag's parsers take them


def _port(name: str, kind: str, bw_min: int, bw_max: int, allocation: list[str]) -> dict[str, Any]:
    return {"name": name, "type": kind, "bandwidth_min": bw_min, "bandwidth_max": bw_max, "allocation": allocation}


def _memory(size: int, op: str, bits: int, bw_max: int, r_pj_bit: float, w_pj_bit: float, served: list[str]):
    """One memory for one operand; ``bits``: the access granularity (bandwidth_min), ``bw_max`` bits
    per cycle; priced per access of ``bw_max`` bits, as ZigZag counts accesses."""
    ports = [
        _port("r_port_1", "read", bits, bw_max, [f"{op}, tl"]),
        _port("w_port_1", "write", bits, bw_max, [f"{op}, fh"]),
    ]
    if op == "O":  # a port per direction: partial sums go both ways each cycle without sharing one
        ports = [
            _port("r_port_1", "read", bits, bw_max, ["O, tl"]),
            _port("r_port_2", "read", bits, bw_max, ["O, th"]),
            _port("w_port_1", "write", bits, bw_max, ["O, fl"]),
            _port("w_port_2", "write", bits, bw_max, ["O, fh"]),
        ]
    return {
        "size": int(size),
        "r_cost": float(r_pj_bit * bw_max),
        "w_cost": float(w_pj_bit * bw_max),
        "area": 0.0,
        "latency": 1,
        "operands": [op],
        "ports": ports,
        "served_dimensions": served,
    }


def accelerator_data(spec: dict[str, Any]) -> dict[str, Any]:
    arr, mem, en = spec["array"], spec["memory"], spec["energy"]
    rows, cols = int(arr["rows"]), int(arr["cols"])
    acc = int(mem["accumulator_bits"])
    reg = float(en["register_pj_per_bit"])
    kb = 8 * 1024
    wide = rows * cols * acc  # SRAM bandwidth that never stalls the array
    dram_bw = int(mem["dram_bits_per_cycle"])
    dram_pj = float(en["dram_pj_per_bit"])
    memories = {
        "reg_w": _memory(8, "I2", 8, 8, reg, reg, []),
        "reg_i": _memory(8, "I1", 8, 8, reg, reg, []),
        "reg_o": _memory(acc, "O", 8, acc, reg, reg, []),
        "wmem": _memory(
            mem["wmem_kb"] * kb, "I2", 8, wide, en["wmem"]["read_pj_bit"], en["wmem"]["write_pj_bit"], ["D1", "D2"]
        ),
        "amem": _memory(
            mem["amem_kb"] * kb, "I1", 8, wide, en["amem"]["read_pj_bit"], en["amem"]["write_pj_bit"], ["D1", "D2"]
        ),
        "omem": _memory(
            mem["omem_kb"] * kb, "O", 8, wide, en["omem"]["read_pj_bit"], en["omem"]["write_pj_bit"], ["D1", "D2"]
        ),
        "dram": {
            "size": 10**15,
            "r_cost": dram_pj * dram_bw,
            "w_cost": dram_pj * dram_bw,
            "area": 0.0,
            "latency": 1,
            "operands": ["I1", "I2", "O"],
            "ports": [
                _port(
                    "rw_port_1",
                    "read_write",
                    8,
                    dram_bw,
                    ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"],
                )
            ],
            "served_dimensions": ["D1", "D2"],
        },
    }
    return {
        "name": f"sa_{arr['dataflow']}_{rows}x{cols}",
        "memories": memories,
        "operational_array": {
            "input_precision": [8, 8],
            "unit_energy": float(en["mac_pj"]),
            "unit_area": 1.0,
            "dimensions": ["D1", "D2"],
            "sizes": [rows, cols],
            "systolic_dimensions": ["D1", "D2"],
        },
    }


def spatial_unrolling(spec: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """OA dimension -> (layer dim, unrolling): OS tokens over rows, WS K over rows; M over cols."""
    arr, g = spec["array"], spec["gemm"]
    rows_dim = "N" if arr["dataflow"] == "os" else "K"
    return {
        "D1": (rows_dim, min(int(arr["rows"]), int(g[rows_dim.lower()]))),
        "D2": ("M", min(int(arr["cols"]), int(g["m"]))),
    }


def workload_data(spec: dict[str, Any]) -> list[dict[str, Any]]:
    g, mem = spec["gemm"], spec["memory"]
    return [
        {
            "id": 0,
            "name": "gemm",
            "operator_type": "Gemm",
            "equation": "O[n][m]+=I[n][k]*W[m][k]",
            "dimension_relations": [],
            "loop_dims": ["N", "K", "M"],
            "loop_sizes": [int(g["n"]), int(g["k"]), int(g["m"])],
            "operand_precision": {
                "I": 8,
                "W": 8,
                "O": int(mem["accumulator_bits"]),
                "O_final": int(mem["output_bits"]),
            },
            "operand_source": {"I": 0, "W": 0},
        }
    ]


def mapping_data(spec: dict[str, Any]) -> list[dict[str, Any]]:
    sm = spatial_unrolling(spec)
    return [
        {
            "name": "default",
            "spatial_mapping": {oa: [f"{dim}, {size}"] for oa, (dim, size) in sm.items()},
            "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
        }
    ]


def folds(spec: dict[str, Any]) -> dict[str, int]:
    """Temporal extent of each dim: ``ceil(dim / unrolling)`` (ZigZag unrolls a partial fold fractionally)."""
    g = spec["gemm"]
    out = {d: int(g[d.lower()]) for d in ("N", "K", "M")}
    for dim, size in spatial_unrolling(spec).values():
        out[dim] = math.ceil(out[dim] / size)
    return out


# ----------------------------------------------------------------------------------------------
# Forced mappings


def _divides(b: int, total: int, what: str) -> None:
    if b < 1 or total % b:
        raise ValueError(f"block={b} must divide the {total} {what} (ZigZag's loops have integer sizes)")


INNER = ("all", "block", "step")


def expand_blocking(spec: dict[str, Any], mapping: dict[str, Any]) -> dict[str, Any]:
    """The loops + levels of one of panacea's blockings (see the module docstring)."""
    arr, mem, g = spec["array"], spec["memory"], spec["gemm"]
    rows, cols = int(arr["rows"]), int(arr["cols"])
    n, k, m = int(g["n"]), int(g["k"]), int(g["m"])
    f = folds(spec)
    kb = 8 * 1024
    cap = {"W": mem["wmem_kb"] * kb, "I": mem["amem_kb"] * kb, "O": mem["omem_kb"] * kb}
    outer = mapping.get("outer", "weights")
    if outer not in ("weights", "activations"):
        raise ValueError(f"mapping.outer must be 'weights' or 'activations', not {outer!r}")
    b = int(mapping.get("block", 1))
    resident, inner = mapping.get("resident"), mapping.get("inner")
    if inner is not None and inner not in INNER:
        raise ValueError(f"mapping.inner must be one of {INNER}, not {inner!r}")
    if arr["dataflow"] == "os":
        w_fold, i_fold = min(cols, m) * k * 8, min(rows, n) * k * 8  # one column / token fold
        if outer == "weights":  # M_block / N_fold / M_in_block / K
            _divides(b, f["M"], "column folds")
            loops = [["M", f["M"] // b], ["N", f["N"]], ["M", b], ["K", f["K"]]]
            out_op, in_op = "W", "I"
            block_bits, out_tile, in_tile, in_all = min(b * cols, m) * k * 8, w_fold, i_fold, n * k * 8
        else:  # N_block / M_fold / N_in_block / K
            _divides(b, f["N"], "token folds")
            loops = [["N", f["N"] // b], ["M", f["M"]], ["N", b], ["K", f["K"]]]
            out_op, in_op = "I", "W"
            block_bits, out_tile, in_tile, in_all = min(b * rows, n) * k * 8, i_fold, w_fold, m * k * 8
        # a streamed fold that does not fit its SRAM passes through it: K at the DRAM level too
        streamed = ["dram", "dram", "dram", "sram" if out_tile <= cap[out_op] else "dram"]
        step = ["dram", "dram", "dram", "sram" if in_tile <= cap[in_op] else "dram"]
        levels = {
            "resident": ["dram", "sram", "sram", "sram"],
            "streamed": streamed,
            "all": ["dram", "sram", "sram", "sram"],
            "block": ["dram", "dram", "sram", "sram"],
            "step": step,
            "O": ["dram", "dram", "dram", "reg"],
        }
    else:  # M_block / token chunk / K_fold / M_in_block / tokens in the chunk
        if outer != "weights":
            raise ValueError("a weight-stationary array runs column folds outer (mapping.outer 'weights')")
        _divides(b, f["M"], "column folds")
        acc = int(mem["accumulator_bits"])
        chunk = mapping.get("chunk", mapping.get("tile_tokens"))  # panacea's WS tiling field
        if chunk is None:
            chunk = min(n, cap["O"] // (min(b * cols, m) * acc))
            while chunk > 1 and n % chunk:  # ZigZag's loops need a chunk that divides the tokens
                chunk -= 1
        chunk = int(chunk)
        if chunk < 1 or n % chunk:
            raise ValueError(f"chunk={chunk}: OMEM cannot hold one token's partial sums, or it does not divide n={n}")
        loops = [["M", f["M"] // b], ["N", n // chunk], ["K", f["K"]], ["M", b], ["N", chunk]]
        out_op, in_op = "W", "I"
        block_bits, in_tile, in_all = min(b * cols, m) * k * 8, chunk * min(rows, k) * 8, n * k * 8
        levels = {
            "resident": ["dram", "sram", "sram", "sram", "reg"],
            "streamed": ["dram", "dram", "dram", "dram", "reg"],
            "all": ["dram", "sram", "sram", "sram", "sram"],
            "block": ["dram", "dram", "dram", "sram", "sram"],
            "step": ["dram", "dram", "dram", "dram", "sram" if in_tile <= cap[in_op] else "dram"],
            "O": ["dram", "dram", "sram", "sram", "sram"],
        }
    if resident is None:
        resident = block_bits <= cap[out_op]
    if inner is None:
        inner = "all" if in_all <= cap[in_op] else "block" if in_tile <= cap[in_op] else "step"
    return {
        "loops": loops,
        "levels": {
            out_op: levels["resident" if resident else "streamed"],
            in_op: levels[inner],
            "O": levels["O"],
        },
        "blocking": {"outer": outer, "block": b, "resident": bool(resident), "inner": inner}
        | ({"chunk": chunk} if arr["dataflow"] == "ws" else {}),
    }


def check_capacity(spec: dict[str, Any], cme) -> None:
    """Every SRAM and register holds what the mapping keeps in it (ZigZag does not check a given mapping)."""
    for op, fraction in cme.mem_utili_individual.items():
        names = MEM_NAMES[str(op)]
        for lvl, used in enumerate(fraction[:-1]):  # DRAM is unbounded
            if used > 1 + 1e-9:
                raise ValueError(f"the mapping keeps {used:.2f}x the capacity of {names[lvl]} for operand {op}")


def check_forced(spec: dict[str, Any], forced: dict[str, Any]) -> None:
    loops, levels = forced["loops"], forced["levels"]
    f = folds(spec)
    prod = {d: 1 for d in f}
    for dim, size in loops:
        if dim not in prod or int(size) < 1:
            raise ValueError(f"loop {[dim, size]}: dims are N, K, M and sizes positive integers")
        prod[dim] *= int(size)
    if prod != f:
        raise ValueError(f"loop sizes multiply to {prod}, the temporal extents are {f} (after the spatial unrolling)")
    for op in ("W", "I", "O"):
        lv = levels.get(op)
        if lv is None or len(lv) != len(loops) or any(x not in LEVELS for x in lv):
            raise ValueError(f"levels[{op!r}] must give one of {LEVELS} for each of the {len(loops)} loops")
        ranks = [LEVELS.index(x) for x in lv]
        if any(a < b for a, b in itertools.pairwise(ranks)):
            raise ValueError(f"levels[{op!r}] = {lv}: a memory level may not rise from outer to inner loops")


# ----------------------------------------------------------------------------------------------
# Running ZigZag


def _build(spec: dict[str, Any], innermost: str | None = None):
    from zigzag.parser.accelerator_factory import AcceleratorFactory
    from zigzag.parser.accelerator_validator import AcceleratorValidator
    from zigzag.parser.mapping_validator import MappingValidator
    from zigzag.parser.workload_factory import WorkloadFactory
    from zigzag.parser.workload_validator import WorkloadValidator

    acc_validator = AcceleratorValidator(accelerator_data(spec))
    if not acc_validator.validate():
        raise ValueError(f"accelerator rejected by ZigZag: {acc_validator.validator.errors}")
    accelerator = AcceleratorFactory(acc_validator.normalized_data).create()
    wl_validator = WorkloadValidator(workload_data(spec))
    if not wl_validator.validate():
        raise ValueError("workload rejected by ZigZag")
    maps = mapping_data(spec)
    if innermost is not None:  # LOMA constraint: an ``innermost`` loop prime factor is innermost
        if innermost not in ("N", "K", "M"):
            raise ValueError(f"loma.innermost must be N, K or M, not {innermost!r}")
        maps[0]["temporal_ordering"] = [[innermost, "*"]]
    map_validator = MappingValidator(maps)
    if not map_validator.validate():
        raise ValueError("mapping rejected by ZigZag")
    workload = WorkloadFactory(wl_validator.normalized_data, map_validator.normalized_data).create()
    return accelerator, workload


def _forced_stage_class(forced: dict[str, Any]):
    from zigzag.datatypes import LayerDim, LayerOperand
    from zigzag.mapping.temporal_mapping import TemporalMapping, TemporalMappingType
    from zigzag.stages.stage import Stage

    class ForcedTemporalMappingStage(Stage):
        """Yields the one temporal mapping given (instead of LOMA's search and memory allocation)."""

        def __init__(self, list_of_callables, *, layer, **kwargs):
            super().__init__(list_of_callables, **kwargs)
            self.layer = layer

        def run(self):
            loops = forced["loops"][::-1]  # inner to outer, as ZigZag lists them
            tm_dict = {}
            for op in ("W", "I", "O"):
                levels = forced["levels"][op][::-1]
                per_level = [[] for _ in LEVELS]
                for (dim, size), level in zip(loops, levels, strict=True):
                    per_level[LEVELS.index(level)].append((LayerDim(dim), int(size)))
                tm_dict[LayerOperand(op)] = per_level
            tm = TemporalMapping(tm_dict, self.layer, TemporalMappingType.UNEVEN)
            kwargs = dict(self.kwargs, layer=self.layer, temporal_mapping=tm)
            sub = self.list_of_callables[0](self.list_of_callables[1:], **kwargs)
            for cme, extra in sub.run():
                yield cme, (tm, extra)

    return ForcedTemporalMappingStage


def run_zigzag(spec: dict[str, Any]):
    """ZigZag's best cost model evaluation (LOMA) or its evaluation of the forced mapping."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.results.reduce_stages import MinimalEnergyStage
    from zigzag.stages.workload_iterator import WorkloadStage

    mapping = spec.get("mapping")
    forced = None
    if mapping is not None:
        forced = dict(mapping) if "loops" in mapping else expand_blocking(spec, mapping)
        check_forced(spec, forced)
        temporal_stage = _forced_stage_class(forced)
    else:
        temporal_stage = TemporalMappingGeneratorStage
    loma = spec.get("loma") or {}
    accelerator, workload = _build(spec, innermost=loma.get("innermost") if mapping is None else None)
    stages = [
        WorkloadStage,
        MinimalEnergyStage,
        SpatialMappingGeneratorStage,
        MinimalEnergyStage,
        temporal_stage,
        CostModelStage,
    ]
    main = MainStage(
        stages,
        accelerator=accelerator,
        workload=workload,
        loma_lpf_limit=int(loma.get("lpf_limit", 7)),
        loma_show_progress_bar=False,
        nb_mappings_generated=1,
        enable_mix_spatial_mapping_generation=False,
        access_same_data_considered_as_no_access=True,  # ZigZag's API default
        temporal_mapping_type=TemporalMappingType.UNEVEN,
    )
    cme = main.run()[0][0]
    if forced is not None:
        check_capacity(spec, cme)
    return cme, forced


def summarize(cme, forced: dict[str, Any] | None) -> dict[str, Any]:
    from zigzag.mapping.data_movement import DataDirection, DataMoveAttr

    accesses = {name: {"read_bits": 0.0, "write_bits": 0.0} for name in ACCESS_NAMES}
    by_op: dict[str, Any] = {}
    mapping = cme.mapping
    for layer_op, umdms in mapping.unit_mem_data_movement.items():
        op = str(layer_op)
        names = MEM_NAMES[op]
        if len(umdms) != len(names):
            raise RuntimeError(f"operand {op}: {len(umdms)} memory levels, expected {names}")
        by_op[op] = {}
        for lvl, umdm in enumerate(umdms):
            amount = umdm.get_attribute(DataMoveAttr.DATA_TRANS_AMOUNT_PER_PERIOD)
            precision = umdm.get_attribute(DataMoveAttr.DATA_PRECISION)
            periods = umdm.get_attribute(DataMoveAttr.DATA_TRANS_PERIOD_COUNT)
            elements = umdm.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
            units = mapping.spatial_mapping.unit_count[layer_op][lvl + 1]
            # the bits ZigZag prices (its word accesses x word width, before rounding to words)
            bits = {d: float(amount.get(d) * precision.get(d) * periods.get(d) * units) for d in DataDirection}
            accesses[names[lvl]]["read_bits"] += bits[DataDirection.RD_OUT_TO_LOW] + bits[DataDirection.RD_OUT_TO_HIGH]
            accesses[names[lvl]]["write_bits"] += bits[DataDirection.WR_IN_BY_LOW] + bits[DataDirection.WR_IN_BY_HIGH]
            by_op[op][names[lvl]] = {
                d.value: {"bits": bits[d], "elements": float(elements.get(d)), "precision": precision.get(d)}
                for d in DataDirection
            }
    energy = {"total": cme.energy_total, "dram": 0.0, "sram": 0.0, "registers": 0.0, "mac": cme.mac_energy}
    for layer_op, per_level in cme.mem_energy_breakdown.items():
        for lvl, e in enumerate(per_level):
            name = MEM_NAMES[str(layer_op)][lvl]
            energy["dram" if name == "dram" else "registers" if name.startswith("reg") else "sram"] += e
    tm = cme.temporal_mapping.mapping_dic_stationary
    text = "; ".join(
        f"{op}: "
        + " | ".join(
            f"{name}[" + ", ".join(f"{d} {size}" for d, size in loops) + "]"
            for name, loops in zip(MEM_NAMES[str(op)], levels, strict=True)
        )
        for op, levels in tm.items()
    )
    # every temporal loop, outer to inner (any operand's levels list all of them, inner to outer)
    order = [[str(d), int(size)] for levels in tm[next(iter(tm))] for d, size in levels if size != 1][::-1]
    return {
        "energy_pj": energy,
        "dram_bits_read": accesses["dram"]["read_bits"],
        "dram_bits_written": accesses["dram"]["write_bits"],
        "accesses": accesses,
        "accesses_by_operand": by_op,
        "latency_cycles": float(cme.latency_total2),
        "stall_cycles": float(cme.stall_slack_comb),
        "ideal_cycles": float(cme.ideal_temporal_cycle),
        "onloading_cycles": float(cme.data_onloading_cycle),
        "offloading_cycles": float(cme.data_offloading_cycle),
        "temporal_mapping": text,
        "loop_order": order,
        "mapping": forced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", action="store_true", help="print an example input and exit")
    parser.add_argument("--timing", action="store_true", help="add 'seconds' (ZigZag's run time) to the output")
    args = parser.parse_args()
    if args.example:
        print(json.dumps(example(), indent=1))
        return
    logging.disable(logging.CRITICAL)  # ZigZag logs at INFO; the caller reads stdout only
    spec = json.load(sys.stdin)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # anything ZigZag prints stays off the JSON
            cme, forced = run_zigzag(spec)
            out = summarize(cme, forced)
    except (ValueError, KeyError) as err:  # a bad input: one line on stderr, exit status 2
        print(f"zigzag_runner: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(2)
    if args.timing:
        out["seconds"] = time.perf_counter() - t0
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
