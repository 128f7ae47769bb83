"""Queries over run records: which scheme stands for Panacea, each design's headline run, and the
pairs of runs the paper's figures compare (Fig. 15's ablation, Fig. 18, Fig. 19). The flows that
check the paper's claims and the report that draws them ask the same questions here."""

from __future__ import annotations

from panacea.results.schema import CostRecord, Results

MAIN_SCHEMES = ("dbs", "zpm", "zpm-paper", "asym", "optq4")  # Panacea's headline scheme, by preference


def main_scheme(formats: dict[str, str | None]) -> str | None:
    """Panacea's headline scheme among ``formats`` (scheme name -> number format): the first of
    :data:`MAIN_SCHEMES` there, else the first ``bitslice-asym`` one (a results file
    that records no formats holds shipped schemes only)."""
    preferred = [s for s in MAIN_SCHEMES if s in formats and formats[s] in ("bitslice-asym", None)]
    others = [s for s, f in formats.items() if f == "bitslice-asym"]
    return next(iter(preferred + others), None)


def headline(res: Results) -> list[CostRecord]:
    """Each accelerator as designed on its own scheme (Panacea: the main one; Sibia: its first)."""
    main = main_scheme({s.scheme: s.format for s in res.schemes})
    out = []
    for acc in res.config["accelerators"]:
        first = res.cost(acc)
        run = res.cost(acc, main) if first is not None and first.kind == "panacea" else first
        if run is not None:
            out.append(run)
    return out


def panacea_headline(res: Results) -> CostRecord | None:
    return next((c for c in headline(res) if c.kind == "panacea"), None)


def ablation_steps(res: Results) -> list[tuple[str, CostRecord]]:
    """Fig. 15's steps on the first Panacea design: AQS-GEMM, +ZPM, +DBS (DTP off), +DTP."""
    ref = panacea_headline(res)
    if ref is None:
        return []
    steps = [
        ("AQS-GEMM", res.cost(ref.accelerator, "asym", "dtp-off")),
        ("+ZPM", res.cost(ref.accelerator, "zpm", "dtp-off")),
        ("+DBS", res.cost(ref.accelerator, "dbs", "dtp-off")),
        ("+DTP", res.cost(ref.accelerator, "dbs", "")),
    ]
    return [(label, c) for label, c in steps if c is not None]


def fig18_pairs(res: Results) -> list[tuple[str, str, CostRecord, CostRecord]]:
    """(panel, label, Panacea's AQS run, the other run) for Fig. 18(a) and (b)."""
    ref = panacea_headline(res)
    if ref is None:
        return []
    out = []
    sym = res.cost(ref.accelerator, "sym", "sym-on-panacea")
    if sym is not None:
        out.append(("(a)", "symmetric, zero point 128", ref, sym))
    zero = res.cost(ref.accelerator, ref.scheme, "zero-only")
    if zero is not None:
        out.append(("(b)", "skipping zero slices only", ref, zero))
    return out


def _weight_bits(res: Results, scheme: str) -> int | None:
    return res.scheme(scheme).calibration.get("w_bits")


def fig19_pairs(res: Results) -> dict[int, tuple[CostRecord, CostRecord]]:
    """Weight bits -> (Panacea's run, Sibia's run) for Fig. 19: each design as designed on its first
    scheme with those weight bits (Panacea's headline scheme for its 7-bit run); 7 and 4 bits."""
    ref = panacea_headline(res)
    sibia = next((c for c in headline(res) if c.kind == "sibia"), None)
    if ref is None or sibia is None:
        return {}
    mine = [ref, *(c for c in res.costs if c.accelerator == ref.accelerator and not c.variant)]
    theirs = [c for c in res.costs if c.accelerator == sibia.accelerator and not c.variant]
    out = {}
    for bits in (7, 4):
        p = next((c for c in mine if _weight_bits(res, c.scheme) == bits), None)
        q = next((c for c in theirs if _weight_bits(res, c.scheme) == bits), None)
        if p is not None and q is not None:
            out[bits] = (p, q)
    return out
