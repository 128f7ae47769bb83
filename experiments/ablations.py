"""Ablations behind the README's observations (accuracy, not speed).

``smollm2``: SmolLM2-135M, perplexity on 8 windows of 512 tokens of the offline Wikipedia text
(calibrated on the next 32 windows) and mean activation vector sparsity for:
  - asymmetric W7A8 with and without the paper's 12-bit down-projection inputs, and with the
    percentile and MSE observers instead of min/max;
  - ZPM alone and ZPM + DBS at target slice sparsities 0.6, 0.75 and 0.9.

``efficientnet``: EfficientNet-Lite0, the relative logit error (vs FP32, on the 8 shipped
photographs) caused by rounding one layer's weights to 7 bits, everything else in float: the
most sensitive layers.

Usage: python experiments/ablations.py [smollm2] [efficientnet]
"""

from __future__ import annotations

import sys

import torch

from panacea.models import find_gemms
from panacea.models.loaders import load_model
from panacea.quant import CalibrationConfig, calibrate_many, capture, quantized
from panacea.quant.gptq import rtn_quantize
from panacea.schemes import load_profile
from panacea.tasks.data import image_tensor, sample_images, token_windows, tokenize, wikipedia_text
from panacea.tasks.metrics import perplexity


def smollm2() -> None:
    lm = load_model("smollm2-135m")
    ids = tokenize(lm.tokenizer, wikipedia_text(), 64 * 512)
    evaluation = token_windows(ids, 512, 8)
    calibration = list(token_windows(ids, 512, 32, start=32 * 512).split(4))
    llama = load_profile("accurate").overrides("llama")
    plain = dict(zpm="off", dbs=False)
    configs = {
        "asym, no mixed precision": CalibrationConfig(**plain),
        "asym, 12-bit down_proj inputs": CalibrationConfig(**plain, overrides=llama),
        "asym, percentile 99.99, no mixed precision": CalibrationConfig(**plain, observer="percentile"),
        "asym, MSE observer, no mixed precision": CalibrationConfig(**plain, observer="mse"),
        "+ZPM (search)": CalibrationConfig(dbs=False, overrides=llama),
        **{f"+ZPM +DBS target {t}": CalibrationConfig(dbs_target=t, overrides=llama) for t in (0.6, 0.75, 0.9)},
    }
    recipes = calibrate_many(lm.model, calibration, configs)
    print(f"FP32: perplexity {perplexity(lm.model, evaluation):.2f}")
    for name, recipe in recipes.items():
        with quantized(lm.model, recipe) as qmodel, capture(qmodel) as rec:
            ppl = perplexity(qmodel, evaluation)
        print(
            f"{name}: perplexity {ppl:.2f}, activation vector sparsity {rec.mean_vector_sparsity()[0]:.3f}", flush=True
        )


def efficientnet() -> None:
    lm = load_model("efficientnet-lite0")
    images = torch.cat([image_tensor(img) for _, img in sample_images()])
    with torch.no_grad():
        reference = lm.model(images)
    errors = []
    for site in find_gemms(lm.model):
        original = site.module.weight.data.clone()
        group = site.k if site.groups > 1 else None  # grouped convolutions: per output channel
        w_q, scale = rtn_quantize(site.weight_matrix().float(), 7, group)
        w = w_q.float() * (scale.repeat_interleave(group, 1) if group else scale)
        if site.kind == "conv2d":
            w = w.reshape(site.m, site.groups, site.k).permute(1, 0, 2).reshape(original.shape)
        site.module.weight.data = w
        with torch.no_grad():
            out = lm.model(images)
        site.module.weight.data = original
        errors.append((float((out - reference).norm() / reference.norm()), site.name))
    for err, name in sorted(errors, reverse=True)[:5]:
        print(f"{name}: relative logit error {err:.3f} with only its weights in 7 bits")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["smollm2", "efficientnet"]
    for name in chosen:
        {"smollm2": smollm2, "efficientnet": efficientnet}[name]()
