"""The paper's claims as data (panacea.results.paper): the shipped file, its validation, the model matching."""

from __future__ import annotations

import inspect
import tomllib
from importlib import resources

import pytest

from panacea.flows.reproduce.claims import MODEL_METRICS, SWEEP_METRICS
from panacea.flows.reproduce.sensitivity import shipped_assumptions
from panacea.results.paper import NO_MODEL, SYNTHETIC, PaperModel, load_paper, nearest_model, paper, paper_value

# What a claim may rest on besides the assumptions the sensitivity table varies.
NOT_VARIED = {"ZPM rule (search)", "sweep operand sizes"}


def test_every_shipped_claim_has_a_metric_that_takes_its_arguments():
    doc = paper()
    assert len(doc.claims) >= 40
    for c in doc.claims:
        metrics = SWEEP_METRICS if c.model == SYNTHETIC else MODEL_METRICS
        assert c.metric in metrics, c.id
        params = list(inspect.signature(metrics[c.metric]).parameters)[1:]  # after the results / sweep summary
        assert sorted(params) == sorted(c.args), (c.id, params, c.args)
        assert c.quote.strip() and c.where.strip()


def test_every_claim_rests_on_assumptions_the_sensitivity_table_varies_or_names_why_not():
    varied = {a.name for a in shipped_assumptions()}
    for c in paper().claims:
        assert set(c.rests_on) <= varied | NOT_VARIED, c.id


def test_the_report_tables_quote_the_paper_from_the_same_data():
    from panacea.report.tables import _paper_ablation, _paper_ee_gpt2

    assert _paper_ee_gpt2() == {"sa-ws": 3.82, "sa-os": 3.07, "simd": 3.81, "sibia": 2.03}
    assert _paper_ablation("+DTP") == (-0.089, 0.076) and _paper_ablation("AQS-GEMM") is None
    assert paper_value("fig19-energy-w4") == 0.56
    with pytest.raises(KeyError, match="no claim 'nope'"):
        paper_value("nope")


def _shipped() -> dict:
    return tomllib.loads(resources.files("panacea.results").joinpath("paper.toml").read_text())


def _toml(doc: dict) -> str:
    import tomli_w

    return tomli_w.dumps(doc)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["claims"].append(dict(d["claims"][0])), "claims.[0-9]+.id: 'mac-reduction' is used twice"),
        (lambda d: d["claims"][0].update(model="gpt-5"), "claims.0.model: 'gpt-5' is none of"),
        (lambda d: d["claims"][0].update(unit="percent"), "claims.0.unit"),
        (lambda d: d["claims"][0].update(colour="red"), "claims.0.colour"),
        (lambda d: d["claims"][0].update(paper="61%"), "claims.0.paper"),
        (lambda d: d["models"]["gpt2"].update(kinds=["llm"]), "models.gpt2.kinds.0"),
        (lambda d: d["models"]["gpt2"].pop("parameters"), "models.gpt2.parameters"),
    ],
)
def test_a_bad_claims_file_is_one_error_naming_the_field(edit, message):
    doc = _shipped()
    edit(doc)
    with pytest.raises(ValueError, match=f"^paper.toml: {message}"):
        load_paper(_toml(doc))


def test_not_toml_is_one_error():
    with pytest.raises(ValueError, match=r"paper\.toml: not valid TOML"):
        load_paper("claims = [")


BERT = PaperModel(label="BERT-base", kinds=("encoder",), parameters=110_000_000, match=("bert-base",))
DEIT = PaperModel(label="DeiT", kinds=("encoder", "image-classifier"), parameters=86_600_000, match=("deit-base",))
RESNET = PaperModel(label="ResNet-18", kinds=("image-classifier",), parameters=11_700_000, match=("resnet-18",))
OURS = [
    ("smollm2-135m", "causal-lm", 134_515_008),
    ("minilm-l6", "encoder", 22_713_216),
    ("efficientnet-lite0", "image-classifier", 4_652_008),
    ("all-mpnet-base-v2", "encoder", 109_486_464),
]


def test_the_nearest_model_is_of_an_accepted_kind_and_of_the_nearest_size():
    assert nearest_model(BERT, OURS) == "all-mpnet-base-v2"  # 110M: MPNet (109M) before MiniLM (23M)
    assert nearest_model(BERT, OURS[:3]) == "minilm-l6"
    assert nearest_model(DEIT, OURS[:3]) == "minilm-l6"  # an encoder before a CNN
    assert nearest_model(DEIT, [OURS[0], OURS[2]]) == "efficientnet-lite0"  # then a CNN
    assert nearest_model(RESNET, OURS) == "efficientnet-lite0"
    assert nearest_model(RESNET, OURS[:2]) is None


def test_the_paper_model_itself_is_matched_by_name_whatever_its_kind():
    ours = [*OURS, ("/models/facebook/deit-base-patch16-224", "image-classifier", 86_000_000)]
    assert nearest_model(DEIT, ours) == "/models/facebook/deit-base-patch16-224"
    assert (
        nearest_model(BERT, [*OURS, ("google-bert/bert-base-uncased", "encoder", 1)]) == "google-bert/bert-base-uncased"
    )


def test_claims_without_a_model_and_synthetic_ones_are_marked():
    models = {c.model for c in paper().claims}
    assert NO_MODEL in models and SYNTHETIC in models
