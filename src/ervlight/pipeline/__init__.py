"""End-to-end pipelines: :mod:`~ervlight.pipeline.demo` (``ervlight demo``) and its stages."""
