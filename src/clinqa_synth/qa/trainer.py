"""A transformers-5 Trainer for extractive QA whose evaluate/predict return SQuAD v2 + RO metrics.

transformers 5 dropped the QA pipeline and the legacy prediction loop; the stock `run_qa.py`
no longer runs. This subclass runs the regular `evaluation_loop` over the tokenised windows,
then post-processes the logits against the untokenised examples and computes the metrics, so
`eval_strategy`, `load_best_model_at_end` and `metric_for_best_model=f1` work as users expect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from transformers import Trainer
from transformers.trainer_utils import PredictionOutput

from clinqa_synth.qa.postprocess import Predictions


class QuestionAnsweringTrainer(Trainer):
    """`Trainer` + `eval_examples` and a `post_process` callback (logits → Predictions) and `metrics_fn`."""

    def __init__(
        self,
        *args: Any,
        eval_examples: Any = None,
        post_process: Callable[[Any, Any, np.ndarray, np.ndarray], Predictions] | None = None,
        metrics_fn: Callable[[Predictions, Any], dict[str, float]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process = post_process
        self.metrics_fn = metrics_fn
        self.last_predictions: Predictions | None = None

    def _logits(self, dataset: Any, description: str, prefix: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        model_columns = [c for c in dataset.column_names if c not in ("example_id", "offset_mapping")]
        loop_dataset = dataset.select_columns(model_columns)
        output = self.evaluation_loop(
            self.get_eval_dataloader(loop_dataset) if prefix == "eval" else self.get_test_dataloader(loop_dataset),
            description=description,
            prediction_loss_only=False,
            metric_key_prefix=prefix,
        )
        start_logits, end_logits = (
            output.predictions[:2] if isinstance(output.predictions, tuple) else output.predictions
        )
        return np.asarray(start_logits), np.asarray(end_logits), dict(output.metrics or {})

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: Any = None,
        metric_key_prefix: str = "eval",
        eval_examples: Any = None,
    ) -> dict[str, float]:
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        examples = eval_examples if eval_examples is not None else self.eval_examples
        start, end, loop_metrics = self._logits(dataset, "Evaluation", "eval")
        metrics = {
            k: v
            for k, v in loop_metrics.items()
            if k.endswith(("_runtime", "_samples_per_second", "_steps_per_second"))
        }
        if self.post_process is not None and self.metrics_fn is not None and examples is not None:
            predictions = self.post_process(examples, dataset, start, end)
            self.last_predictions = predictions
            metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self.metrics_fn(predictions, examples).items()})
        metrics = {
            k if k.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{k.split('_', 1)[-1]}": v
            for k, v in metrics.items()
        }
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        self._memory_tracker.stop_and_update_metrics(metrics) if hasattr(self, "_memory_tracker") else None
        return metrics

    def predict(
        self, test_dataset: Any, ignore_keys: Any = None, metric_key_prefix: str = "predict", test_examples: Any = None
    ) -> PredictionOutput:
        start, end, loop_metrics = self._logits(test_dataset, "Prediction", "test")
        metrics: dict[str, float] = {}
        predictions = None
        if self.post_process is not None and test_examples is not None:
            predictions = self.post_process(test_examples, test_dataset, start, end)
            self.last_predictions = predictions
            if self.metrics_fn is not None and "answers" in test_examples.column_names:
                metrics = {
                    f"{metric_key_prefix}_{k}": v for k, v in self.metrics_fn(predictions, test_examples).items()
                }
        for key, value in loop_metrics.items():
            if key.endswith(("_runtime", "_samples_per_second", "_steps_per_second")):
                metrics[f"{metric_key_prefix}_{key.split('_', 1)[-1]}"] = value
        return PredictionOutput(predictions=(start, end), label_ids=None, metrics=metrics)
