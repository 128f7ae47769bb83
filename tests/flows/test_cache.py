"""The cache of scheme runs: keys that see every weight, entries re-used only when asked."""

from __future__ import annotations

import torch

from panacea.flows.cache import Cache, model_fingerprint


def test_model_fingerprint_sees_every_weight_and_buffer():
    from tiny_models import TinyCNN

    model = TinyCNN()
    model.register_buffer("step", torch.tensor(3))  # 0-d buffers too
    before = model_fingerprint(model)
    assert model_fingerprint(model) == before
    with torch.no_grad():
        model.blocks[1][0].weight[0, 0, 0, 0] += 1e-6
    assert model_fingerprint(model) != before
    model.step += 1
    assert len({before, model_fingerprint(model)}) == 2


def test_cache_reads_only_when_resuming_or_written_by_this_run(tmp_path):
    entry = tmp_path / "old" / "metrics.json"
    entry.parent.mkdir()
    entry.write_text("{}")
    assert Cache(tmp_path, resume=False).read(entry, lambda p: p.read_text()) is None
    assert Cache(tmp_path, resume=True).read(entry, lambda p: p.read_text()) == "{}"
    fresh = Cache(tmp_path, resume=False)
    fresh.write(tmp_path / "new" / "m.json", b"[1]")
    assert fresh.read(tmp_path / "new" / "m.json", lambda p: p.read_bytes()) == b"[1]"


def test_a_damaged_entry_is_a_miss(tmp_path, caplog):
    entry = tmp_path / "bad.json"
    entry.write_text("not json")

    def reader(path):
        raise ValueError(f"{path}: not valid")

    assert Cache(tmp_path, resume=True).read(entry, reader) is None
    assert "is damaged" in caplog.text


def test_keys_differ_by_scheme_and_definition(tmp_path):
    cache = Cache(tmp_path, resume=False)
    key = {"weights": "abc"}
    assert cache.dir(key, "dbs", {"w_bits": 7}) != cache.dir(key, "dbs", {"w_bits": 10})
    assert cache.dir(key, "dbs", None).name.startswith("dbs-")
    assert cache.dir(key, "dbs", None) == cache.dir(dict(key), "dbs", None)
