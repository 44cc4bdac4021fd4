"""GPUs per instance of the common accelerated instance types: a hardware fact the prices table
lacks, needed by the providers (to scale CloudWatch per-host GPU figures) and by analysis (GPU-hours,
fewer-GPU sizes)."""

from __future__ import annotations

# GPUs per instance of the common accelerated AWS types (the prices table has no GPU count);
# SageMaker's "ml." types are the same machines. A profile's own `gpus` column wins.
_GPUS: dict[str, int] = {
    "p2.xlarge": 1, "p2.8xlarge": 8, "p2.16xlarge": 16,
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.48xlarge": 8,
    "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.16xlarge": 1,
    "g4dn.12xlarge": 4, "g4dn.metal": 8,
    "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.16xlarge": 1,
    "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8,
    "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.16xlarge": 1,
    "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
}


def gpus_of(instance_type: str | None) -> int | None:
    """GPUs per instance of a known accelerated type ('ml.' prefix ignored), else None."""
    if not instance_type:
        return None
    t = instance_type.removeprefix("ml.")
    return _GPUS.get(t)


__all__ = ["gpus_of"]
