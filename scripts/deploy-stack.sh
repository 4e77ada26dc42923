#!/usr/bin/env bash
# Deploys one conveyor stack from `sam build`'s output and moves it onto images built from
# this commit: the release workflow's deploy (.github/workflows/release.yml), per environment.
#
#   scripts/deploy-stack.sh STACK
#
# Read from the environment: PROJECT_NAME (the stack's ProjectName), SAM_ARTIFACTS_BUCKET
# (where sam deploy uploads the code), CLOUDFORMATION_ROLE_ARN (the role CloudFormation deploys
# with; deploy/github-oidc.yaml makes both), SAM_PARAMETER_OVERRIDES (more Key=Value pairs,
# space separated; optional), IMAGE_TAG (default: the checked-out commit).
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

deploy() {  # $1: the ImageTag to deploy with
  "$sam" deploy --template-file .aws-sam/build/template.yaml --stack-name "$stack" \
    --s3-bucket "$SAM_ARTIFACTS_BUCKET" --s3-prefix "$stack" \
    --role-arn "$CLOUDFORMATION_ROLE_ARN" --capabilities CAPABILITY_IAM \
    --no-confirm-changeset --no-fail-on-empty-changeset \
    --parameter-overrides "ProjectName=$PROJECT_NAME" "ImageTag=$1" "${extra[@]}"
}

current=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='ImageTag'].ParameterValue" \
  --output text 2>/dev/null || true)
[ "$current" = None ] && current=""

deploy "$current"
scripts/build-images.sh "$stack" "$tag"
deploy "$tag"
