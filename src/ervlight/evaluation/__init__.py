"""Evaluation: consistency metrics, judges and reports."""
