"""The prompt sets each model is steered and evaluated on: harmful / harmless × direction / eval —
the chat model's project-written requests, the toys' synthetic language, or the user's files (split
in order: the first `n_direction` of each file make the direction, the next `n_eval` are evaluated;
a file too short for `n_direction` is an error, one short of `n_eval` a warning)."""

from __future__ import annotations

import warnings

from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.config import CHAT_ARCH, AceConfig
from workbench.ace.models import instruction_set
from workbench.ace.prompts import PromptRow, load_prompt_rows


def prompt_rows(config: AceConfig) -> dict[str, list[PromptRow]]:
    """The user's prompt files split into harmful/harmless × direction/eval, each prompt with its
    file and line (the real path only)."""
    files = {"harmful": config.harmful_file, "harmless": config.harmless_file}
    loaded = {kind: load_prompt_rows(path, config.column, name=f"{kind}_file") for kind, path in files.items()}
    out = {}
    for kind, rows in loaded.items():  # both files read first: a broken or missing file is the likelier mistake
        path = files[kind]
        if len(rows) <= config.n_direction:  # at least one prompt must stay for evaluation
            raise ValueError(f"`n_direction` {config.n_direction} asks for {config.n_direction} direction prompts "
                             f"from `{kind}_file` {str(path)!r}, which holds {len(rows)}: the file needs at least "
                             f"`n_direction` + 1 = {config.n_direction + 1} prompts (the first `n_direction` make "
                             f"the direction, the next `n_eval` are evaluated), or lower `n_direction`")
        n_dir = config.n_direction
        if len(rows) - n_dir < config.n_eval:
            warnings.warn(f"`n_eval` {config.n_eval}: `{kind}_file` {str(path)!r} holds {len(rows)} prompts, so only "
                          f"{len(rows) - n_dir} remain for evaluation after the {n_dir} direction prompts",
                          stacklevel=2)
        out[f"{kind}_direction"] = rows[:n_dir]
        out[f"{kind}_eval"] = rows[n_dir:n_dir + config.n_eval]
    counts = {key: len(out[f"{key}_eval"]) for key in ("harmful", "harmless")}
    n = min(counts.values())
    if len(set(counts.values())) > 1:
        warnings.warn(f"the evaluation sets differ in size (harmful {counts['harmful']}, harmless "
                      f"{counts['harmless']} prompts): both are cut to {n} so every rate compares equal counts",
                      stacklevel=2)
    out["harmful_eval"], out["harmless_eval"] = out["harmful_eval"][:n], out["harmless_eval"][:n]
    return out


def prompt_sets(config: AceConfig, arch: str | None = None) -> dict[str, list[str]]:
    """Raw requests: harmful/harmless × direction/eval — of the embedded model `arch` (the chat
    model's project-written requests, or the toys' synthetic language), else the user's files."""
    if config.is_embedded and arch == CHAT_ARCH:
        c = chat_prompts(config.n_direction, config.n_eval, config.seed)
        return {"harmful_direction": list(c.harmful_direction), "harmless_direction": list(c.harmless_direction),
                "harmful_eval": list(c.harmful_eval), "harmless_eval": list(c.harmless_eval)}
    if config.is_embedded:
        d = instruction_set(config)
        return {"harmful_direction": list(d.harmful_direction), "harmless_direction": list(d.harmless_direction),
                "harmful_eval": list(d.harmful_eval), "harmless_eval": list(d.harmless_eval)}
    return {key: [row.text for row in rows] for key, rows in prompt_rows(config).items()}
