"""The AWS backend: adapters for every port on S3, DynamoDB, SageMaker, CloudWatch and
EventBridge, and the Lambda handlers. Imported only when a setting names an AWS scheme, so
the local default never imports an AWS SDK."""
