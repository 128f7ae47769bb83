"""Keeping a large model's resident memory small on a CPU (glibc, Linux).

- :func:`return_freed_memory`: glibc serves allocations below its mmap threshold from heap arenas,
  and raises that threshold (up to 32 MB) each time a larger block is freed, so the many tensors
  of a few MB that a forward pass frees stay in the arenas, fragmented: a block-streamed
  evaluation of a 1B-parameter Llama peaked at 8.5 GB resident with glibc's default, 5.9 GB with
  the threshold fixed at 16 MiB (every tensor of that size or more its own mapping, unmapped when
  freed), at the same speed. A threshold of 64 KiB returned more still but made the 135M model
  2-3x slower (a fresh mapping and its page faults for every small tensor).
- :func:`keep_on_disk` / :func:`drop_pages`: weights loaded from a safetensors file are views of
  the file's memory mapping, paged in when read. Dropping those pages (``madvise(MADV_DONTNEED)``)
  after a block has run takes them out of the process's resident memory; the next read faults them
  in again from the file (through the page cache), with the same bytes. Only tensors lying wholly
  in a mapping of a ``.safetensors`` file are ever dropped: dropping anonymous memory would zero it.
  A change written into such a tensor in place would be lost, so only tensors nothing writes are
  registered (the compact weights of streamed blocks, :mod:`panacea.models.streaming`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import mmap
import weakref

import torch

_M_MMAP_THRESHOLD = -3  # mallopt parameter number (glibc malloc.h)
_MADV_DONTNEED = 4
MMAP_THRESHOLD = 16 * 1024 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.gnu_get_libc_version  # glibc only  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


@functools.cache
def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold (module docs), once per process; False where the C library is
    not glibc (nothing changes)."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def _safetensors_mappings() -> list[tuple[int, int]]:
    """Address ranges of this process's memory mappings of ``.safetensors`` files."""
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].endswith(".safetensors"):
            start, end = (int(a, 16) for a in parts[0].split("-"))
            out.append((start, end))
    return out


# Tensors whose pages may be dropped, by id (a tensor's == is elementwise), with their address.
_ON_DISK: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_ADDRESS: dict[int, int] = {}


def keep_on_disk(tensors: list[torch.Tensor]) -> int:
    """Register the ``tensors`` that lie wholly in a safetensors mapping (module docs) for
    :func:`drop_pages`, and drop their pages now; returns how many were registered."""
    if _glibc() is None:
        return 0
    maps = _safetensors_mappings()
    count = 0
    for t in tensors:
        start = t.data_ptr()
        end = start + t.numel() * t.element_size()
        if t.device.type == "cpu" and t.is_contiguous() and any(a <= start and end <= b for a, b in maps):
            _ON_DISK[id(t)] = t
            _ADDRESS[id(t)] = start
            weakref.finalize(t, _ADDRESS.pop, id(t), None)
            drop_pages(t)
            count += 1
    return count


def on_disk(t: torch.Tensor) -> bool:
    """Whether ``t`` is registered by :func:`keep_on_disk` and its data still lies where it was."""
    return _ON_DISK.get(id(t)) is t and _ADDRESS.get(id(t)) == t.data_ptr()


def drop_pages(t: torch.Tensor) -> None:
    """Drop the resident pages of a tensor registered by :func:`keep_on_disk` (its data still at
    the registered address); any other tensor is left alone."""
    if not on_disk(t):
        return
    page = mmap.PAGESIZE
    start = t.data_ptr() // page * page
    end = -(-(t.data_ptr() + t.numel() * t.element_size()) // page) * page
    _glibc().madvise(start, end - start, _MADV_DONTNEED)
