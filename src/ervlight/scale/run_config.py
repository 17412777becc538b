"""Read a training YAML into what the memory plan needs: the model spec, the precision setup and the workload.

Unknown or malformed entries raise :class:`PlanConfigError` with one line naming the file and the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

from ervlight.policy import FinetuneConfig, TinyOmni
from ervlight.scale.memory import STRATEGIES, Setup, Strategy, Workload
from ervlight.scale.models import KNOWN_MODELS, ModelSpec, hf_spec, spec_from_module

__all__ = ["PlanConfigError", "RunConfig", "load_run_config", "read_yaml"]

#: Qwen2.5-Omni's video processor defaults (Qwen2VLVideoProcessor): pixel bounds, patch, merge and frame pairs.
_VIDEO_MIN_PIXELS, _VIDEO_MAX_PIXELS = 128 * 28 * 28, 768 * 28 * 28
_PATCH, _MERGE, _TEMPORAL = 14, 2, 2
#: Whisper features at 100 frames/s, halved by the encoder's conv and again by its pooling: 25 tokens per second.
_AUDIO_TOKENS_PER_SECOND = 25
_OPTIMIZER_STATES = {"AdamW": 2, "Adam": 2}


class PlanConfigError(ValueError):
    """A config the plan cannot read (the message is one line naming the file and key)."""


@dataclass(frozen=True)
class RunConfig:
    """One training config, as the plan sees it."""

    task: str
    policy: str
    spec: ModelSpec
    setup: Setup
    work: Workload
    strategy: Strategy
    gpus: int
    accelerator: str
    precision: str
    weight_dtype: str
    finetune: FinetuneConfig | None


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; missing or invalid files raise :class:`PlanConfigError`."""
    if not path.is_file():
        raise PlanConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PlanConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from error
    if not isinstance(data, dict):
        raise PlanConfigError(f"{path}: expected a mapping at the top level")
    return data


def _get(data: dict[str, Any], dotted: str, path: Path) -> Any:
    """``data`` at a dotted key; a missing key raises :class:`PlanConfigError` naming it."""
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise PlanConfigError(f"{path}: {dotted} is missing")
        value = value[part]
    return value


def _strategy(trainer: dict[str, Any], path: Path) -> Strategy:
    """The plan's name for ``trainer.strategy`` (``auto`` and single-device runs count as ``ddp``)."""
    value = trainer.get("strategy", "auto")
    if isinstance(value, dict):
        name = str(value.get("class_path", "")).rsplit(".", 1)[-1]
        sharding = str(value.get("init_args", {}).get("sharding_strategy", "FULL_SHARD"))
        if name == "FSDPStrategy":
            return "fsdp" if sharding == "FULL_SHARD" else "deepspeed_stage_2"
        if name == "ModelParallelStrategy":
            return "fsdp"
        if name == "DDPStrategy":
            return "ddp"
        raise PlanConfigError(f"{path}: trainer.strategy {name!r} is not one the plan knows")
    text = str(value)
    if text in ("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "single_device"):
        return "ddp"
    if text.startswith("fsdp"):
        return "fsdp"
    if text.startswith("deepspeed_stage_3"):
        return "deepspeed_stage_3"
    if text.startswith("deepspeed_stage"):
        return "deepspeed_stage_2"
    raise PlanConfigError(f"{path}: trainer.strategy {text!r} is not one of {list(STRATEGIES)}")


def _finetune(policy_args: dict[str, Any], path: Path) -> FinetuneConfig | None:
    """The policy's ``finetune`` block as a :class:`FinetuneConfig`."""
    raw = policy_args.get("finetune")
    if raw is None:
        return None
    try:
        return FinetuneConfig(**raw)
    except TypeError as error:
        raise PlanConfigError(f"{path}: model.init_args.policy.init_args.finetune: {error}") from error


def _model_name(folder: str, override: str | None) -> str | None:
    """The built-in architecture to use: ``--model``, or a known name inside the folder path."""
    if override is not None:
        return override
    lowered = folder.lower()
    return next((name for name in KNOWN_MODELS if name in lowered), None)


def video_tokens(frames: int, image_size: int) -> tuple[int, int]:
    """(decoder tokens, vision-tower patches) of a clip through Qwen2.5-Omni's default video processor."""
    height, width = smart_resize(
        image_size,
        image_size,
        factor=_PATCH * _MERGE,
        min_pixels=_VIDEO_MIN_PIXELS,
        max_pixels=_VIDEO_MAX_PIXELS,
    )
    patches = math.ceil(frames / _TEMPORAL) * (height // _PATCH) * (width // _PATCH)
    return patches // (_MERGE * _MERGE), patches


def _policy_spec(
    policy: dict[str, Any], path: Path, model: str | None, finetune: FinetuneConfig | None
) -> tuple[str, ModelSpec]:
    """(policy class name, spec) of the YAML's policy block."""
    class_name = str(_get(policy, "class_path", path)).rsplit(".", 1)[-1]
    args = dict(policy.get("init_args") or {})
    if class_name in ("QwenOmniThinker", "CausalLMPolicy"):
        folder = str(_get(args, "model", path))
        try:
            return class_name, hf_spec(Path(folder), _model_name(folder, model), finetune)
        except ValueError as error:
            raise PlanConfigError(f"{path}: model.init_args.policy.init_args.model: {error}") from error
    if class_name == "TinyOmni":
        if args.get("pretrained") and not Path(args["pretrained"]).is_dir():
            args.pop("pretrained")  # not trained yet: the sizes of the config (TinyOmni's defaults otherwise)
        if args.get("tokenizer_corpus") and not Path(args["tokenizer_corpus"]).is_file():
            args.pop("tokenizer_corpus")
        args["finetune"] = finetune
        tiny = TinyOmni(**args)
        lm: Any = tiny.lm
        source = "TinyOmni built from the config on CPU"
        return class_name, spec_from_module("TinyOmni", source, tiny, lm.config, tiny.lm, None, None)
    raise PlanConfigError(
        f"{path}: model.init_args.policy.class_path {class_name!r}: the plan knows "
        "QwenOmniThinker, CausalLMPolicy and TinyOmni"
    )


def _setup(
    trainer: dict[str, Any],
    model_args: dict[str, Any],
    policy_args: dict[str, Any],
    class_name: str,
    finetune: FinetuneConfig | None,
    task: str,
    path: Path,
) -> tuple[Setup, str]:
    """Precision and optimizer facts, and the policy's weight dtype name."""
    default_dtype = "bfloat16" if class_name == "QwenOmniThinker" else "float32"
    dtype = str(policy_args.get("dtype", default_dtype))
    if dtype not in ("float32", "bfloat16", "float16"):
        raise PlanConfigError(
            f"{path}: model.init_args.policy.init_args.dtype {dtype!r} is not float32/bfloat16"
        )
    precision = str(trainer.get("precision", "32-true"))
    optimizer = str((model_args.get("optimizer") or {}).get("class_path", "torch.optim.AdamW")).rsplit(
        ".", 1
    )[-1]
    if optimizer == "SGD":
        momentum = float((model_args["optimizer"].get("init_args") or {}).get("momentum", 0.0))
        states = 1 if momentum else 0
    elif optimizer in _OPTIMIZER_STATES:
        states = _OPTIMIZER_STATES[optimizer]
    else:
        raise PlanConfigError(
            f"{path}: model.init_args.optimizer {optimizer!r}: the plan knows Adam, AdamW, SGD"
        )
    lora = finetune is not None and finetune.mode == "lora"
    reference = task == "GRPOModule" and float(model_args.get("beta", 0.04)) > 0 and not lora
    weight_bytes = 4 if dtype == "float32" and precision not in ("bf16-true", "16-true") else 2
    return Setup(weight_bytes, precision.endswith("-mixed"), states, reference), dtype


def load_run_config(
    path: Path,
    model: str | None = None,
    audio_seconds: float = 5.0,
    gpus: int | None = None,
    lora: bool = False,
) -> RunConfig:
    """Read ``path`` (a fit config) into spec, setup, workload and strategy (``lora``: as if LoRA were configured)."""
    data = read_yaml(path)
    trainer = data.get("trainer") or {}
    model_args = dict(_get(data, "model.init_args", path))
    task = str(_get(data, "model.class_path", path)).rsplit(".", 1)[-1]
    if task not in ("GRPOModule", "SFTModule"):
        raise PlanConfigError(f"{path}: model.class_path {task!r}: the plan knows GRPOModule and SFTModule")
    policy = _get(model_args, "policy", path)
    policy_args = dict(policy.get("init_args") or {})
    finetune = _finetune(policy_args, path)
    if lora:
        finetune = replace(finetune or FinetuneConfig(), mode="lora")
    class_name, spec = _policy_spec(policy, path, model, finetune)
    setup, dtype = _setup(trainer, model_args, policy_args, class_name, finetune, task, path)
    data_args = (data.get("data") or {}).get("init_args") or {}
    frames, image_size = int(data_args.get("num_frames", 8)), int(data_args.get("image_size", 224))
    if class_name == "QwenOmniThinker":
        video, patches = video_tokens(frames, image_size)
        media = video + math.ceil(audio_seconds * _AUDIO_TOKENS_PER_SECOND)
    else:
        patches = 0
        media = frames + int(policy_args.get("audio_tokens", 4)) if class_name == "TinyOmni" else 0
    prompts = int(data_args.get("batch_size", 1))
    grpo = task == "GRPOModule"
    generations = int(model_args.get("num_generations", 4)) if grpo else 1
    micro = model_args.get("micro_batch_size") if grpo else None
    completion = (
        model_args.get("max_completion_length", 512) if grpo else model_args.get("max_new_tokens", 512)
    )
    work = Workload(
        prompts=prompts,
        generations=generations,
        micro_batch=int(micro) if micro else prompts * generations,
        prompt_tokens=int(policy_args.get("max_prompt_length") or 256),
        media_tokens=media,
        vision_patches=patches,
        completion_tokens=int(completion),
        gradient_checkpointing=bool(model_args.get("gradient_checkpointing", False)),
        logprob_chunk=int(model_args.get("logprob_chunk_size", 1024)),
        rollout=grpo,
    )
    devices = trainer.get("devices", 1)
    count = gpus if gpus is not None else (int(devices) if str(devices).isdigit() else 1)
    return RunConfig(
        task,
        class_name,
        spec,
        setup,
        work,
        _strategy(trainer, path),
        count,
        str(trainer.get("accelerator", "auto")),
        str(trainer.get("precision", "32-true")),
        dtype,
        finetune,
    )
