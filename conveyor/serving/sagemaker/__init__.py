"""conveyor's model server as SageMaker's inference container: one model, from the folder
SageMaker unpacked it into, behind the same ``/ping`` and ``/invocations`` routes as the local
server; no Table, no registry, no inference records (on AWS the predict function records)."""
