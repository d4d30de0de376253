"""`evaluate` metric module: SQuAD v2 EM/F1 plus Reference Overlap, computed by clinqa_synth.qa.metrics.

Load it offline with ``evaluate.load(clinqa_synth.qa.evaluate_module_path())`` — `evaluate.load("squad_v2")`
needs the Hub. Inputs follow the `squad_v2` metric: predictions are
``{"id", "prediction_text", "no_answer_probability"}``, references ``{"id", "answers"}``; add a
``context`` (and ``question``) to each reference for RO and its splits.
"""

import datasets
import evaluate

from clinqa_synth.qa.metrics import squad_v2_metrics

_DESCRIPTION = "SQuAD v2 exact match / F1 (official normalisation) and Reference Overlap (Bai et al. 2024)."
_CITATION = "Bai et al., Give me Some Hard Questions: Synthetic Data Generation for Clinical QA, ML4H 2024."
_KWARGS = (
    "predictions: list of {id, prediction_text, no_answer_probability}; "
    "references: list of {id, answers, context?, question?}"
)


class SquadV2RO(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                        "no_answer_probability": datasets.Value("float32"),
                    },
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": {
                            "text": datasets.List(datasets.Value("string")),
                            "answer_start": datasets.List(datasets.Value("int32")),
                        },
                        "context": datasets.Value("string"),
                        "question": datasets.Value("string"),
                    },
                }
            ),
        )

    def _compute(self, predictions, references, no_answer_threshold=1.0):
        answers = {p["id"]: p["prediction_text"] for p in predictions}
        na_probs = {p["id"]: p["no_answer_probability"] for p in predictions}
        return squad_v2_metrics(answers, references, na_probs=na_probs, na_prob_threshold=no_answer_threshold)
