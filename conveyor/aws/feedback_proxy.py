"""``POST /feedback/{project}`` on AWS: API Gateway → this Lambda function → the table, with
the model server's answers (``conveyor.monitoring.feedback_check.receive_feedback``).

The predict function writes each record before it answers, so an id it did not sign (one
the client chose with ``x-request-id``) is found at once: no waiting for a record writer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from conveyor.aws.events import ApiRequest, proxy_response
from conveyor.aws.predict_proxy import MAX_BODY_BYTES, deployed_schema
from conveyor.errors import ConveyorError, InvalidInput, NotFound, PayloadTooLarge, body_of
from conveyor.inference.request_ids import RequestIds
from conveyor.logs import REQUEST_LOGGER, bind
from conveyor.monitoring.feedback_check import receive_feedback
from conveyor.ports import Ports
from conveyor.projects import find_project

request_log = logging.getLogger(REQUEST_LOGGER)


def handle(request: ApiRequest, ports: Ports, request_ids: RequestIds) -> dict[str, Any]:
    """The proxy response to one feedback request (``request_ids``: the deployment's)."""
    project = request.path_parameters.get("project", "")
    bind(project=project or None)
    try:
        if not project:
            raise InvalidInput("the path is /feedback/{project}", field="project")
        if find_project(ports.table, project) is None:
            raise NotFound(f"no project {project!r}", field="project")
        if len(request.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the body is {len(request.body)} bytes; send at most {MAX_BODY_BYTES} "
                "per request (split the feedback over several requests)",
                field="body",
            )
        deployment = ports.endpoint.describe_endpoint(project)
        served = None
        if deployment is not None:
            served = (deployed_schema(ports, deployment), f"{project} v{deployment.version}")
        stored, notes = receive_feedback(ports.table, request_ids, project, request.body, served)
    except ConveyorError as exc:
        request_log.warning("feedback to %s answered %d: %s", project, exc.http_status, exc.message)
        return proxy_response(exc.http_status, json.dumps(body_of(exc)))
    return proxy_response(200, json.dumps({"stored": stored, "notes": notes}))
