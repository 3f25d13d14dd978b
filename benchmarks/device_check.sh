#!/usr/bin/env bash
# The GPU checks of the performance issue, as one short script for a session lent a device
# (`run` tool; carry .venv or install the wheels first). Prints the CUDA top-k tests, then the
# scorer benchmark at 1M and 10M tracks (JSON, with the GPU's roofline) into $OUT when set.
set -euo pipefail
out="${OUT:-/tmp}"
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.cuda.get_device_name(0))"
.venv/bin/python -m pytest tests/recommender/test_topk.py 2>&1 | tail -3
.venv/bin/python benchmarks/scorer.py --repeats 5 > "$out/scorer_1m.json"
.venv/bin/python benchmarks/scorer.py --tracks 10000000 --repeats 3 --gpu-only > "$out/scorer_10m.json"
.venv/bin/python -c "
import json, sys
for f in sys.argv[1:]:
    d = json.load(open(f)); g = d['gpu']
    print(f, {k: g[k] for k in ('project', 'plain_fp32', 'plain_tf32', 'plain_bf16', 'roofline')})
" "$out/scorer_1m.json" "$out/scorer_10m.json"
