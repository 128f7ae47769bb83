"""``--device``: the CPU default, one clear error for CUDA where there is none, and (where CUDA
is present) the GPU path's exactness."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from panacea.cli import app
from panacea.core.intmm import int_matmul
from panacea.core.intmm_backends import padded_int_mm
from panacea.flows.evaluate import EvaluateConfig
from panacea.models.device import model_device, on_device, resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")


def test_cpu_and_auto_resolve_here():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'cuda', 'auto'\], got 'tpu'"):
        resolve_device("tpu")


@without_cuda
def test_cuda_without_cuda_is_one_clear_error():
    with pytest.raises(ValueError, match="device 'cuda' was asked but CUDA is not available here"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"device\n.*CUDA is not available"):
        EvaluateConfig(device="cuda")


@without_cuda
@pytest.mark.parametrize("command", ["evaluate", "ptq", "reproduce"])
def test_cli_device_cuda_without_cuda(command, tmp_path):
    res = CliRunner().invoke(app, [command, "--device", "cuda", *(["--out", str(tmp_path / "o")] * (command != "ptq"))])
    assert res.exit_code == 2  # the CLI's exit code for bad input
    assert "device 'cuda' was asked but CUDA is not available here" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize("n, k, m", [(1, 1, 1), (3, 5, 7), (16, 8, 8), (17, 24, 16), (40, 100, 9)])
def test_padding_for_cuda_int_mm_is_exact(n, k, m):
    """The padding CUDA's _int_mm needs, checked with the CPU kernel: zeros change no product."""
    gen = torch.Generator().manual_seed(n * k * m)
    a = torch.randint(-128, 128, (n, k), generator=gen, dtype=torch.int8)
    b = torch.randint(-128, 128, (m, k), generator=gen, dtype=torch.int8)
    got = padded_int_mm(a, b)
    assert got.shape == (n, m) and torch.equal(got.to(torch.int64), a.to(torch.int64) @ b.to(torch.int64).t())


def test_on_cpu_nothing_moves():
    model = torch.nn.Linear(4, 2)
    assert on_device(model, torch.device("cpu")) is model and model_device(model).type == "cpu"
    assert not getattr(model, "_panacea_device_hooks", False)


# --------------------------------------------------------------------------- on a GPU


@needs_cuda
@pytest.mark.parametrize(
    "a_range, b_range", [((0, 255), (-127, 127)), ((-128, 127), (-7, 7)), ((0, 4095), (-511, 511)), ((0, 15), (-1, 1))]
)
@pytest.mark.parametrize("n, k, m", [(1, 7, 3), (16, 64, 24), (33, 300, 70)])
def test_int_matmul_on_cuda_equals_the_cpu(a_range, b_range, n, k, m):
    gen = torch.Generator().manual_seed(k)
    a = torch.randint(a_range[0], a_range[1] + 1, (n, k), generator=gen)
    b = torch.randint(b_range[0], b_range[1] + 1, (m, k), generator=gen)
    a = a.to(torch.uint8) if a_range == (0, 255) else a.to(torch.int16 if a_range[1] > 127 else torch.int8)
    b = b.to(torch.int16 if b_range[1] > 127 else torch.int8)
    want = int_matmul(a, b, a_range=a_range, b_range=b_range)
    got = int_matmul(a.cuda(), b.cuda(), a_range=a_range, b_range=b_range)
    assert got.is_cuda and torch.equal(got.cpu(), want)
    assert torch.equal(want, a.to(torch.int64) @ b.to(torch.int64).t())


@needs_cuda
def test_quantized_linear_on_cuda_computes_and_counts_what_the_cpu_does():
    """One GEMM fed the model's input directly: the same integers reach it on both devices, so
    outputs and captured counts must be identical."""
    from panacea.quant import CalibrationConfig, calibrate, capture, quantized

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 48))
    batches = [torch.randn(2, 24, 64) for _ in range(2)]
    recipe = calibrate(model, batches, CalibrationConfig())
    with torch.no_grad(), quantized(model, recipe) as q, capture(q) as rec:
        cpu_out = q(batches[0])
    cpu_counts = rec.total()
    on_device(model, torch.device("cuda"))
    with torch.no_grad(), quantized(model, recipe) as q, capture(q) as rec:
        gpu_out = q(batches[0])
    assert torch.equal(cpu_out, gpu_out) and rec.total() == cpu_counts
    with torch.no_grad(), quantized(model, recipe) as q:
        assert torch.equal(q(batches[0]), cpu_out)  # the integer GEMM on the GPU, no capture


@needs_cuda
@pytest.mark.slow
def test_evaluate_on_cuda_runs_and_agrees_with_the_cpu(tmp_path):
    from tiny_models import save_tiny_llama

    from panacea.flows.evaluate import evaluate

    path = save_tiny_llama(tmp_path / "llama", dtype=torch.bfloat16)
    opts = dict(model=path, schemes=("sym", "dbs", "aq"), tokens=64, calib_tokens=64, seqlen=32, batch_size=2)
    cpu = evaluate(EvaluateConfig(**opts), tmp_path / "cpu")
    gpu = evaluate(EvaluateConfig(**opts, device="cuda"), tmp_path / "gpu")
    assert gpu.fp32 == pytest.approx(cpu.fp32, rel=1e-4)
    for a, b in zip(cpu.schemes, gpu.schemes, strict=True):
        assert a.metrics == pytest.approx(b.metrics, rel=1e-2)
    assert [(c.accelerator, c.scheme, c.variant) for c in cpu.costs] == [
        (c.accelerator, c.scheme, c.variant) for c in gpu.costs
    ]
