#!/usr/bin/env python
"""Fine-tune/evaluate an extractive QA model, HF `run_qa.py` style, on transformers 5 (logic in clinqa_synth.qa)."""

import sys

from clinqa_synth.errors import ClinqaError
from clinqa_synth.qa.run import parse_and_run

if __name__ == "__main__":
    try:
        parse_and_run()
    except ClinqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
