"""Log-likelihoods of continuations, each distinct prompt's forward run once and its KV cache shared.

    continuation_logprobs   log p(token | prompt, earlier tokens) of every continuation token

A judge scores many completions of few prompts (an experiment's settings × samples all complete the
same eval prompts): run on prompt + completion, four-fifths of the tokens would be the same prompts
again. Here the distinct prompts of a group are left-padded and run once; each completion row then
continues from its prompt's cache (`DynamicCache.batch_select_indices` repeats the prompt's rows),
so a row costs its own tokens only. Identical (prompt, continuation) pairs are scored once.

The layout of a continuation row is [left pads | prompt | continuation | right pads] with the mask
0 on both pads and position ids counted from the prompt's first real token, so a row computes what
its unpadded sequence computes (up to float rounding; tests/unit/lm/test_scoring.py holds it to a
single unpadded forward). Attention models only: a recurrent state cannot be padded on the left
(`workbench.lm.generate`), so those run each full sequence alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from workbench.core.validation import check_int
from workbench.lm.fastpath import bare
from workbench.lm.forward import forward, hf_model, is_recurrent, left_padded, next_cache, pad_id
from workbench.lm.generate import check_fits, use_cache_for


def _alone(model: nn.Module, prompt: list[int], cont: list[int], device: torch.device) -> Float[Tensor, " c"]:
    """One unpadded forward of prompt + continuation (recurrent models)."""
    logits = hf_model(model)(input_ids=torch.tensor([prompt + cont], device=device)).logits[0].float()
    logp = logits[len(prompt) - 1:-1].log_softmax(-1)
    return logp.gather(-1, torch.tensor(cont, device=device)[:, None])[:, 0].cpu()


def _group(model: nn.Module, prompts: list[list[int]], conts: list[list[int]], rows: list[tuple[int, int]],
           batch_size: int, pad: int, device: torch.device) -> dict[tuple[int, int], Tensor]:
    """{(prompt index, continuation index): token log-probs} for `rows`, whose prompts (at most
    `batch_size` distinct) are run once here."""
    local = sorted({p for p, _ in rows})
    where = {p: j for j, p in enumerate(local)}
    ids, mask = left_padded([prompts[p] for p in local], pad)
    ids, mask = ids.to(device), mask.to(device)
    out = forward(model, ids, mask, (mask.cumsum(-1) - 1).clamp(min=0), {})
    first = out.logits[:, -1].float().log_softmax(-1)  # predicts each continuation's first token
    cache = next_cache(out)
    lengths = mask.sum(-1)
    scores: dict[tuple[int, int], Tensor] = {}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        index = torch.tensor([where[p] for p, _ in chunk], device=device)
        width = max(len(conts[c]) for _, c in chunk) - 1  # the last token is predicted, never read
        logp_rows = [first[index]]
        if width > 0:
            cont_ids = torch.full((len(chunk), width), pad, dtype=torch.long, device=device)
            cont_mask = torch.zeros((len(chunk), width), dtype=torch.long, device=device)
            for j, (_, c) in enumerate(chunk):
                n = len(conts[c]) - 1
                cont_ids[j, :n] = torch.tensor(conts[c][:n], device=device)
                cont_mask[j, :n] = 1
            past = copy.deepcopy(cache)
            for value in past.values():
                value.batch_select_indices(index)
            full_mask = torch.cat([mask[index], cont_mask], 1)
            positions = lengths[index, None] + torch.arange(width, device=device)
            logits = forward(model, cont_ids, full_mask, positions, past, keep=width).logits.float()
            logp_rows.append(logits.log_softmax(-1))
        for j, (p, c) in enumerate(chunk):
            target = torch.tensor(conts[c], device=device)
            steps = torch.cat([logp_rows[0][j:j + 1], *(r[j, :len(conts[c]) - 1] for r in logp_rows[1:])])
            scores[(p, c)] = steps.gather(-1, target[:, None])[:, 0].cpu()
    return scores


@torch.no_grad()
def continuation_logprobs(model: nn.Module, tokenizer, prompts: Sequence[str], continuations: Sequence[str],
                          batch_size: int = 32) -> list[Float[Tensor, " tokens"]]:
    """Natural-log probability of every token of each continuation given its prompt and the earlier
    tokens, under `model` (an HF causal LM or a TransformerBridge: the HF model under it runs, with
    the bridge's components set aside when nobody hooks them). Prompt and continuation are
    tokenized apart (no special tokens added) and joined, as generation produced them; a
    continuation with no tokens gets an empty tensor. `batch_size` bounds both the distinct prompts
    run together and the continuation rows per forward. Raises ValueError naming `batch_size`, or
    `completions` for a row past the model's context, before any forward."""
    check_int("batch_size", batch_size, low=1)
    if len(prompts) != len(continuations):
        raise ValueError(f"`completions` must hold one completion per prompt; got {len(continuations)} for "
                         f"{len(prompts)} prompts")
    prompt_key = {p: k for k, p in enumerate(dict.fromkeys(prompts))}
    cont_key = {c: k for k, c in enumerate(dict.fromkeys(continuations))}
    p_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompt_key]
    c_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] if c.strip() else [] for c in cont_key]
    pairs = [(prompt_key[p], cont_key[c]) for p, c in zip(prompts, continuations)]
    check_fits(model, [(i, len(p_ids[p]) + len(c_ids[c])) for i, (p, c) in enumerate(pairs)], 0, "completions")
    todo = sorted({pair for pair in pairs if c_ids[pair[1]]})
    device = next(hf_model(model).parameters()).device
    scores: dict[tuple[int, int], Tensor] = {}
    if is_recurrent(model):
        scores = {(p, c): _alone(model, p_ids[p], c_ids[c], device) for p, c in todo}
    else:
        use_cache_for(model, True)
        with bare(model):
            distinct = sorted({p for p, _ in todo})
            for start in range(0, len(distinct), batch_size):
                group = set(distinct[start:start + batch_size])
                rows = sorted((pair for pair in todo if pair[0] in group), key=lambda pc: (len(c_ids[pc[1]]), pc))
                scores.update(_group(model, p_ids, c_ids, rows, batch_size, pad_id(tokenizer), device))
    return [scores.get(pair, torch.zeros(0)) for pair in pairs]
