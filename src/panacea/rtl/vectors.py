"""Golden vectors of one PEA tile: the operands as Panacea's PEA receives them and the results it
must produce, as ``$readmemh`` files and a JSON manifest that says the layout of every file.

A tile (Section IV, Fig. 12): one weight slice-vector row (``vector`` output channels) of a layer,
``rows`` activation slice-vector rows (``rows x vector`` tokens) and a chunk of ``kc`` positions of
K starting at ``k0``. 7-bit weights and 8-bit activations (two slices each, sections II-B and III-B):

- weights: SBR slices; the top (HO) slice-vectors RLE-encoded along k (indices and stored data
  apart, :mod:`panacea.core.rle`), the low (LO) slices dense;
- activations: unsigned slices (DBS: ``lo_bits``); per activation row the HO vectors whose slices
  all equal ``r = zero_point >> lo_bits`` are compressed and RLE-encoded, the LO slices dense;
- expected: ``psum[i][n]``, what the PEA accumulates: every slice pair of the stored vectors,
  shifted by its significance (``HH << 3 + l``, ``LH << l``, ``HL << 3 + l - 4``, ``LL << l - 4``);
  ``cs[i][t]``, the compensator's sum of the weights loaded for activation row ``t``'s stored
  HO vectors (eq. 6: ``W 1_U``); ``w_rowsum[i]`` (``W 1``, folded into the bias offline); and
  ``out[i][n] = psum + r * 2^l * (w_rowsum - cs)``, which equals the tile's exact GEMM
  ``w @ x~.T`` (``x~``: DBS's truncated activations) and ``aqs_gemm`` on the tile.

Files hold one word per line in hexadecimal (``$readmemh``), signed values in two's complement of
the word's width; a vector of slices is one word, lane 0 in the least significant nibble.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from panacea.core.files import atomic_write, read_text
from panacea.core.formats import ho_shift, zero_point_ho
from panacea.core.rle import RleRows, rle_decode, rle_encode
from panacea.core.slicing import (
    act_slices,
    act_vector_stored,
    dbs_truncate,
    sbr_slices,
    to_vectors,
    weight_vector_stored,
)

FORMAT = "panacea-pea-vectors"
VERSION = 1
W_BITS, X_BITS = 7, 8
RESULT_BITS = 32  # psum / cs / out words: enough for any tile of a real layer (checked)


@dataclass(frozen=True)
class TileVectors:
    """One tile's streams and expected results (module docs); integer tensors."""

    vector: int
    index_bits: int
    lo_bits: int
    zero_point: int
    w_q: torch.Tensor  # int8 [vector, kc]: the tile's integer weights
    x_q: torch.Tensor  # uint8 [rows * vector, kc]: its integer activations (before DBS's truncation)
    w_ho_index: torch.Tensor  # int32 [entries]
    w_ho_data: torch.Tensor  # int8 [stored, vector]
    w_lo: torch.Tensor  # int8 [kc, vector]
    x_ho_index: torch.Tensor  # int32 [entries of all rows]
    x_ho_entries: torch.Tensor  # int64 [rows]: entries per activation row
    x_ho_data: torch.Tensor  # uint8 [stored, vector]
    x_lo: torch.Tensor  # uint8 [rows, kc, vector]
    w_rowsum: torch.Tensor  # int64 [vector]
    cs: torch.Tensor  # int64 [vector, rows]
    psum: torch.Tensor  # int64 [vector, rows * vector]
    out: torch.Tensor  # int64 [vector, rows * vector]

    @property
    def r(self) -> int:
        return zero_point_ho(self.zero_point, X_BITS, self.lo_bits)

    @property
    def rows(self) -> int:
        return self.x_lo.shape[0]

    @property
    def kc(self) -> int:
        return self.w_lo.shape[0]

    def stored(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The HO vector masks the RLE streams encode: weights bool ``[kc]``, activations
        ``[rows, kc]`` (decoded, :func:`panacea.core.rle.rle_decode`)."""
        w = RleRows(
            self.w_ho_index,
            self.w_ho_data,
            torch.tensor([self.w_ho_index.numel()]),
            torch.tensor([self.w_ho_data.shape[0]]),
            self.kc,
            self.index_bits,
        )
        x = RleRows(
            self.x_ho_index,
            self.x_ho_data,
            self.x_ho_entries,
            torch.zeros_like(self.x_ho_entries),
            self.kc,
            self.index_bits,
        )
        return rle_decode(w)[0][0], rle_decode(x)[0]


def tile_vectors(
    x_q: torch.Tensor,
    w_q: torch.Tensor,
    zero_point: int,
    *,
    lo_bits: int = 4,
    vector: int = 4,
    index_bits: int = 4,
    m_row: int = 0,
    n_row: int = 0,
    rows: int = 1,
    k0: int = 0,
    kc: int | None = None,
) -> TileVectors:
    """The tile of ``x_q [N, K]`` (uint8-valued) and ``w_q [M, K]`` (7-bit) at weight vector-row
    ``m_row``, activation vector-rows ``n_row .. n_row + rows - 1`` and ``k0 .. k0 + kc - 1``."""
    n, k = x_q.shape
    m = w_q.shape[0]
    kc = k - k0 if kc is None else kc
    for name, lo, hi, bound in (
        ("m_row", m_row * vector, (m_row + 1) * vector, m),
        ("n_row", n_row * vector, (n_row + rows) * vector, n),
        ("k0", k0, k0 + kc, k),
    ):
        if lo < 0 or hi > bound or hi <= lo:
            raise ValueError(f"{name}: the tile [{lo}, {hi}) must lie inside the layer's {bound}")
    x = x_q[n_row * vector : (n_row + rows) * vector, k0 : k0 + kc].to(torch.int64)
    w = w_q[m_row * vector : (m_row + 1) * vector, k0 : k0 + kc].to(torch.int64)
    hs = ho_shift(X_BITS, lo_bits)  # the paper's l
    r = zero_point >> hs
    w_hi, w_lo = sbr_slices(w, W_BITS).to(torch.int64)  # [vector, kc] each
    x_hi, x_lo = act_slices(x, X_BITS, lo_bits).to(torch.int64)  # [rows * vector, kc] each
    w_stored = weight_vector_stored(w, W_BITS, vector)  # [1, kc]
    x_stored = act_vector_stored(x, zero_point, X_BITS, lo_bits, vector)  # [rows, kc]
    w_enc = rle_encode(to_vectors(w_hi, vector, 0), w_stored, index_bits)
    x_enc = rle_encode(to_vectors(x_hi, vector, r), x_stored, index_bits)

    # What the PEA sums (HH, LH only on stored activation vectors; compressed weight vectors are 0)
    u = x_stored.repeat_interleave(vector, dim=0).to(torch.int64)  # [rows * vector, kc]
    w_full = (w_hi << 3) + w_lo
    psum = (w_full @ (u * x_hi).T << hs) + (w_full @ x_lo.T << (hs - 4))
    cs = w_full @ x_stored.to(torch.int64).T
    w_rowsum = w_full.sum(dim=1)
    out = psum + r * (1 << hs) * (w_rowsum[:, None] - cs.repeat_interleave(vector, dim=1))
    assert torch.equal(out, w @ dbs_truncate(x, lo_bits, X_BITS).T)  # eq. (5)-(6): exact
    if max(int(t.abs().max()) for t in (psum, cs, out)) >= 1 << (RESULT_BITS - 1):
        raise ValueError(f"kc: {kc} positions overflow {RESULT_BITS}-bit result words; take a smaller chunk")
    return TileVectors(
        vector=vector,
        index_bits=index_bits,
        lo_bits=lo_bits,
        zero_point=zero_point,
        w_q=w.to(torch.int8),
        x_q=x.to(torch.uint8),
        w_ho_index=w_enc.index,
        w_ho_data=w_enc.data.to(torch.int8),
        w_lo=w_lo.T.contiguous().to(torch.int8),
        x_ho_index=x_enc.index,
        x_ho_entries=x_enc.row_entries,
        x_ho_data=x_enc.data.to(torch.uint8),
        x_lo=to_vectors(x_lo, vector, 0).to(torch.uint8),
        w_rowsum=w_rowsum,
        cs=cs,
        psum=psum,
        out=out,
    )


# --------------------------------------------------------------------------- files

# name -> (lanes: slices per word or 0 for one value, signed, order, meaning); word widths follow
_FILES = {
    "w_q": (0, True, "channel, k", "the tile's integer weights (7-bit, in 8-bit words)"),
    "x_q": (0, False, "token, k", "the tile's integer activations (8-bit, before DBS's truncation)"),
    "w_ho_index": (0, False, "entry", "RLE indices of the weight HO slice-vectors along k (filler 2^b - 1)"),
    "w_ho_data": (1, True, "stored vector", "stored weight HO slice-vectors, in entry order"),
    "w_lo": (1, True, "k", "weight LO slice-vectors, dense"),
    "x_ho_index": (0, False, "row, entry", "RLE indices of the activation HO slice-vectors, row after row"),
    "x_ho_data": (1, False, "stored vector", "stored activation HO slice-vectors, in entry order"),
    "x_lo": (1, False, "row, k", "activation LO slice-vectors, dense"),
    "w_rowsum": (0, True, "channel", "W 1 over the chunk (bias offline)"),
    "cs": (0, True, "channel, row", "compensator sums W 1_U per activation row"),
    "psum": (0, True, "channel, token", "partial sums of the slice products"),
    "out": (0, True, "channel, token", "psum + r 2^l (w_rowsum - cs): the exact GEMM of the tile"),
}


def _word_bits(tv: TileVectors, name: str) -> int:
    lanes = _FILES[name][0]
    if lanes:
        return 4 * tv.vector
    if name in ("w_q", "x_q"):
        return 8
    return tv.index_bits if name.endswith("index") else RESULT_BITS


def _words(tv: TileVectors, name: str) -> list[int]:
    t = getattr(tv, name)
    if _FILES[name][0]:  # slice vectors: lane j in bits 4j .. 4j + 3
        lanes = (t.reshape(-1, tv.vector).to(torch.int64) & 15).tolist()
        return [sum(s << (4 * j) for j, s in enumerate(row)) for row in lanes]
    mask = (1 << _word_bits(tv, name)) - 1
    return [v & mask for v in t.reshape(-1).tolist()]


def write_vectors(tv: TileVectors, directory: str | os.PathLike, *, about: dict | None = None) -> Path:
    """Write every stream as ``<name>.hex`` and ``manifest.json`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, (lanes, signed, order, meaning) in _FILES.items():
        bits = _word_bits(tv, name)
        words = _words(tv, name)
        digits = -(-bits // 4)
        atomic_write(out / f"{name}.hex", "".join(f"{w:0{digits}x}\n" for w in words).encode())
        files[name] = {
            "file": f"{name}.hex",
            "words": len(words),
            "word_bits": bits,
            "lanes": tv.vector if lanes else 1,
            "lane_bits": 4 if lanes else bits,
            "signed": signed,
            "order": order,
            "meaning": meaning,
        }
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "vector": tv.vector,
        "index_bits": tv.index_bits,
        "w_bits": W_BITS,
        "x_bits": X_BITS,
        "lo_bits": tv.lo_bits,
        "zero_point": tv.zero_point,
        "r": tv.r,
        "rows": tv.rows,
        "kc": tv.kc,
        "x_ho_entries": tv.x_ho_entries.tolist(),
        "files": files,
        "about": about or {},
    }
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return out


def _parse(path: Path, spec: dict) -> torch.Tensor:
    words = [int(line, 16) for line in read_text(path, "vector file").split()]
    if len(words) != spec["words"]:
        raise ValueError(f"{path}: {len(words)} words, the manifest says {spec['words']}")
    lane_bits, lanes = spec["lane_bits"], spec["lanes"]
    values = [(w >> (lane_bits * j)) & ((1 << lane_bits) - 1) for w in words for j in range(lanes)]
    t = torch.tensor(values, dtype=torch.int64)
    if spec["signed"]:
        t = torch.where(t >= 1 << (lane_bits - 1), t - (1 << lane_bits), t)
    return t.reshape(len(words), lanes) if lanes > 1 else t


def read_vectors(directory: str | os.PathLike) -> TileVectors:
    """The tile written by :func:`write_vectors`, read back through its manifest."""
    src = Path(directory)
    manifest = json.loads(read_text(src / "manifest.json", "vector manifest"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{src / 'manifest.json'}: not a {FORMAT} v{VERSION} manifest")
    v, rows, kc = manifest["vector"], manifest["rows"], manifest["kc"]
    t = {name: _parse(src / spec["file"], spec) for name, spec in manifest["files"].items()}
    shapes = {
        "w_q": (v, kc),
        "x_q": (rows * v, kc),
        "x_lo": (rows, kc, v),
        "cs": (v, rows),
        "psum": (v, rows * v),
        "out": (v, rows * v),
    }
    dtypes = {
        "w_q": torch.int8,
        "x_q": torch.uint8,
        "w_ho_index": torch.int32,
        "x_ho_index": torch.int32,
        "w_ho_data": torch.int8,
        "w_lo": torch.int8,
    }
    dtypes |= {"x_ho_data": torch.uint8, "x_lo": torch.uint8}
    tensors = {
        name: t[name].reshape(shapes.get(name, t[name].shape)).to(dtypes.get(name, torch.int64)) for name in _FILES
    }
    known = {f.name for f in fields(TileVectors)}
    return TileVectors(
        vector=v,
        index_bits=manifest["index_bits"],
        lo_bits=manifest["lo_bits"],
        zero_point=manifest["zero_point"],
        x_ho_entries=torch.tensor(manifest["x_ho_entries"], dtype=torch.int64),
        **{k: tensors[k] for k in tensors if k in known},
    )


# --------------------------------------------------------------------------- a real layer's operands


@dataclass(frozen=True)
class LayerOperands:
    """The integers one layer's GEMM computes on in a calibrated model (its first call)."""

    model: str
    layer: str
    x_q: torch.Tensor  # [N, K], 8-bit unsigned values
    w_q: torch.Tensor  # [M, K], 7-bit
    zero_point: int
    lo_bits: int
