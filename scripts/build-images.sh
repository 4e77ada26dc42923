#!/usr/bin/env bash
# Builds conveyor's training and inference images in the account, with the stack's CodeBuild
# project (template.yaml: ImageBuildProject, containers/buildspec.yml), and prints their tag.
#
#   scripts/build-images.sh STACK [TAG]
#
# TAG defaults to the checked-out commit. The source is `git archive` of HEAD, uploaded to the
# stack's image-source bucket. The repositories' tags are immutable: when both images of TAG
# are there already (a release run again), nothing is built. Then deploy with
# ImageTag=TAG to point the functions at them. Needs the AWS CLI and the caller's credentials.
set -euo pipefail

stack=${1:?usage: scripts/build-images.sh STACK [TAG]}
tag=${2:-$(git rev-parse HEAD)}

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
project=$(output ImageBuildProjectName)
bucket=$(output ImageSourceBucketName)
training=$(output TrainingRepositoryUri)
inference=$(output InferenceRepositoryUri)

built() {  # the repository URI's image of $tag exists
  aws ecr describe-images --repository-name "${1#*/}" --image-ids "imageTag=$tag" >/dev/null 2>&1
}
if built "$training" && built "$inference"; then
  echo "images $tag exist already in $training and $inference" >&2
  echo "$tag"
  exit 0
fi

source_zip=$(mktemp --suffix .zip)
trap 'rm -f "$source_zip"' EXIT
git archive --format=zip --output "$source_zip" HEAD
key="sources/$tag.zip"
aws s3 cp --only-show-errors "$source_zip" "s3://$bucket/$key"

build=$(aws codebuild start-build --project-name "$project" \
  --source-location-override "$bucket/$key" \
  --environment-variables-override "name=IMAGE_TAG,value=$tag,type=PLAINTEXT" \
  --query build.id --output text)
echo "building images $tag: CodeBuild $build" >&2

status=IN_PROGRESS
while [ "$status" = IN_PROGRESS ]; do
  sleep 20
  status=$(aws codebuild batch-get-builds --ids "$build" --query 'builds[0].buildStatus' --output text)
done
if [ "$status" != SUCCEEDED ]; then
  echo "the image build $build ended $status: its log is in /aws/codebuild/$project" >&2
  exit 1
fi
echo "$tag"
