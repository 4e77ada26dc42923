#!/usr/bin/env bash
# Deploys one conveyor stack from `sam build`'s output and moves it onto images built from
# this commit: the release workflow's deploy (.github/workflows/release.yml), per environment.
#
#   scripts/deploy-stack.sh STACK
#
# Read from the environment, each optional: PROJECT_NAME (the stack's ProjectName; conveyor),
# SAM_ARTIFACTS_BUCKET (where sam deploy uploads the code; else SAM's own bucket) and
# CLOUDFORMATION_ROLE_ARN (the role CloudFormation deploys with; else the caller's rights):
# deploy/github-oidc.yaml makes both; SAM_PARAMETER_OVERRIDES (more Key=Value pairs, space
# separated), IMAGE_TAG (default: the checked-out commit).
#
# Three steps, because the images live in repositories the stack owns: (1) deploy the template
# with the images the stack runs now (none on a first deploy: the TrainingImage and
# InferenceImage parameters), which creates or updates the repositories and the build project;
# (2) build this commit's images there (scripts/build-images.sh); (3) deploy again with
# ImageTag set to them, which changes only the functions' settings.
set -euo pipefail

stack=${1:?usage: scripts/deploy-stack.sh STACK}
tag=${IMAGE_TAG:-$(git rev-parse HEAD)}
read -r -a extra <<< "${SAM_PARAMETER_OVERRIDES:-}"
sam=${SAM:-.venvs-iac/sam/bin/sam}

# By hand, without deploy/github-oidc.yaml: SAM's own bucket, and CloudFormation acting with
# the caller's credentials.
where=(--resolve-s3)
[ -n "${SAM_ARTIFACTS_BUCKET:-}" ] && where=(--s3-bucket "$SAM_ARTIFACTS_BUCKET" --s3-prefix "$stack")
[ -n "${CLOUDFORMATION_ROLE_ARN:-}" ] && where+=(--role-arn "$CLOUDFORMATION_ROLE_ARN")

deploy() {  # $1: the ImageTag to deploy with
  "$sam" deploy --template-file .aws-sam/build/template.yaml --stack-name "$stack" \
    "${where[@]}" --capabilities CAPABILITY_IAM \
    --no-confirm-changeset --no-fail-on-empty-changeset \
    --parameter-overrides "ProjectName=${PROJECT_NAME:-conveyor}" "ImageTag=$1" "${extra[@]}"
}

current=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='ImageTag'].ParameterValue" \
  --output text 2>/dev/null || true)
[ "$current" = None ] && current=""

deploy "$current"
scripts/build-images.sh "$stack" "$tag"
deploy "$tag"
