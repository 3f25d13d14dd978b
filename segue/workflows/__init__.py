"""Segue's workflows: plain functions with typed, frozen settings that the CLI and the tests call alike.

A CLI command parses its options into one of these settings records and calls
one workflow; no command calls another command, and nothing below ``segue/``
calls the CLI. Each workflow reports progress through a ``segue.progress.Reporter``.
"""

from .embeddings import EmbeddingsJob, HistoriesJob, simulate_histories, train_scorer_embeddings
from .evaluate import (
    EvaluateSettings,
    PromoteSettings,
    ReportSettings,
    evaluate_policies,
    gate_candidates,
    promote_policy,
    write_evaluation_report,
)
from .pipeline import Candidate, PipelineResult, PipelineSettings, auto_steps, run_pipeline
from .serve import ServeSettings, Session, open_session
from .simulate import SimulateResult, SimulateSettings, simulate_logs
from .train import TrainJob, train_policy

__all__ = [
    "Candidate", "PipelineResult", "PipelineSettings", "auto_steps", "run_pipeline",
    "EvaluateSettings", "PromoteSettings", "ReportSettings", "evaluate_policies", "gate_candidates", "promote_policy",
    "write_evaluation_report",
    "ServeSettings", "Session", "open_session",
    "SimulateResult", "SimulateSettings", "simulate_logs",
    "TrainJob", "train_policy",
    "EmbeddingsJob", "HistoriesJob", "simulate_histories", "train_scorer_embeddings",
]
