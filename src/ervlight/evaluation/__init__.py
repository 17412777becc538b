"""Evaluation: consistency metrics, judges and reports.

* :mod:`~ervlight.evaluation.consistency` — functional WAR, UAR, per-class recall, confusion matrix, unparseable
  and format rates, EEA, EPC, FCR (joint and given a correct answer), unjudged count;
* :mod:`~ervlight.evaluation.metrics` — the same as torchmetrics ``Metric`` classes and
  :func:`~ervlight.evaluation.metrics.consistency_metrics` (a per-stage ``MetricCollection``);
* :mod:`~ervlight.evaluation.metric_inputs` — completions, gold labels and judge answers to the index tensors
  the metrics count;
* :mod:`~ervlight.evaluation.judge` — the :class:`~ervlight.evaluation.judge.Judge` protocol and
  :func:`~ervlight.evaluation.judge.run_judge` over mixed datasets;
* :mod:`~ervlight.evaluation.llm_judge` — an LLM judge for OpenAI-compatible chat endpoints (disk cache in
  :mod:`~ervlight.evaluation.response_cache`);
* :mod:`~ervlight.evaluation.agreement` — Cohen's kappa and a confusion table between two judges.
"""
