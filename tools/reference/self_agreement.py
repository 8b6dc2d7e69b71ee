#!/usr/bin/env python3
# How well llama.cpp agrees with itself: its default path on this CPU (AMX weight repacking)
# against the committed goldens from its portable path (tools/reference/model_goldens.py).
# Prints where greedy decoding parts and the portable path's top-2 gap there, and the logit
# differences over the recorded top-20s. tests/fidelity/real_models.test.cpp takes its bounds
# from these figures.
#   Run: $(tools/reference/setup.sh) tools/reference/self_agreement.py [MODEL-NAME]
# MODEL-NAME as tools/models knows it (default gemma3-270m-q4_k_m).
import os, subprocess, sys
import json, numpy as np
from llama_cpp import Llama
name = sys.argv[1] if len(sys.argv) > 1 else 'gemma3-270m-q4_k_m'
here = os.path.dirname(os.path.abspath(__file__))
d = json.load(open(os.path.join(here, f'../../tests/data/models/{name}.json')))
path = subprocess.run([sys.executable, os.path.join(here, '../models'), 'path', name], check=True, capture_output=True, text=True).stdout.strip()
llm = Llama(model_path=path, n_ctx=2048, n_batch=512, n_threads=1, logits_all=True, verbose=False, flash_attn=False)
worst_shift = 0; worst_rel = 0
for g in d['greedy']:
    llm.reset(); llm.eval(g['prompt_ids'])
    div = None
    for step, want in enumerate(g['ids']):
        logits = np.array(llm.scores[llm.n_tokens - 1])
        if str(step) in g['top20']:
            top = g['top20'][str(step)]
            diffs = np.array([logits[i] - v for i, v in top]); sh = diffs.mean()
            worst_shift = max(worst_shift, abs(sh)); worst_rel = max(worst_rel, np.abs(diffs - sh).max())
        tok = int(np.argmax(logits))
        if tok != want:
            div = step; break
        if step + 1 < len(g['ids']): llm.eval([tok])
    print(g['kind'], repr(g['prompt'][:30]), 'diverged at', div, 'portable gap there', None if div is None else round(g['top2_gap'][div], 4))
print('AMX vs portable: largest common shift', worst_shift, 'largest relative', worst_rel)
