"""Autoscaling of a SageMaker real-time endpoint: Application Auto Scaling's target tracking
on ``SageMakerVariantInvocationsPerInstance``, the metric AWS recommends for endpoints.

The requests only; ``SageMakerEndpoint.apply_autoscaling`` sends them. Changing the model of
a scaled variant (what every conveyor deploy does) is an update AWS allows without
deregistering it first; deleting the endpoint deregisters it.
"""

from __future__ import annotations

from typing import Any

from conveyor.config import AwsSettings

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_POLICY = "conveyor-invocations-per-instance"
SCALE_IN_COOLDOWN_SECONDS = 300  # remove instances slowly: traffic comes back in bursts
SCALE_OUT_COOLDOWN_SECONDS = 60


def scaling_requests(
    settings: AwsSettings, endpoint: str, variant: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """RegisterScalableTarget's and PutScalingPolicy's requests for ``variant`` of
    ``endpoint``: between ``inference_instance_count`` and ``autoscaling_max_instances``
    instances, each kept near ``autoscaling_target_invocations`` a minute. None when
    autoscaling is off (no maximum set, or a serverless endpoint, which scales by itself)."""
    if settings.serverless or settings.autoscaling_max_instances <= 0:
        return None
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{variant}",
        "ScalableDimension": SCALABLE_DIMENSION,
    }
    register = {
        **target,
        "MinCapacity": settings.inference_instance_count,
        "MaxCapacity": max(settings.autoscaling_max_instances, settings.inference_instance_count),
    }
    policy = {
        **target,
        "PolicyName": SCALING_POLICY,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(settings.autoscaling_target_invocations),
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
        },
    }
    return register, policy
