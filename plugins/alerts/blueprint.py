"""Routes of the alerts API: alerts (viewer reads, trader acknowledges and resolves), rules and
notifier targets (admins)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.openapi import no_content
from quarkbot.pagination import PageQuery, filtered, get_or_404, paginate
from quarkbot_plugins.alerts import lifecycle, notifiers, service
from quarkbot_plugins.alerts.models import Alert, AlertRule, NotifierTarget
from quarkbot_plugins.alerts.schemas import (
    AlertOut,
    AlertPage,
    AlertQuery,
    NotifierList,
    RuleIn,
    RuleOut,
    RulePage,
    TargetIn,
    TargetOut,
    TargetPage,
)

alerts_bp = Blueprint("alerts", __name__, url_prefix="/api/v1/alerts")


@alerts_bp.get("")
@requires("viewer")
@tag(["alerts"])
@validate_querystring(AlertQuery)
@validate_response(AlertPage)
async def list_alerts(query_args: AlertQuery) -> AlertPage:
    """Alerts, newest first; filters: status, severity, source, rule_id, since, until."""
    qs = filtered(Alert.all().order_by("-started_at", "-id"), query_args)
    return await paginate(qs, query_args, AlertOut.model_validate)


@alerts_bp.get("/<int:alert_id>")
@requires("viewer")
@tag(["alerts"])
@validate_response(AlertOut)
@validate_response(ErrorBody, 404)
async def get_alert(alert_id: int) -> AlertOut:
    """One alert."""
    return AlertOut.model_validate(await get_or_404(Alert, "Alert not found", id=alert_id))


@alerts_bp.post("/<int:alert_id>/acknowledge")
@requires("trader")
@tag(["alerts"])
@validate_response(AlertOut)
@validate_response(ErrorBody, 409)
async def acknowledge(alert_id: int) -> AlertOut:
    """Acknowledge a firing alert (who and when are kept, and the request is audited)."""
    alert = await lifecycle.acknowledge(alert_id, current_identity().username)
    return AlertOut.model_validate(alert)


@alerts_bp.post("/<int:alert_id>/resolve")
@requires("trader")
@tag(["alerts"])
@validate_response(AlertOut)
async def resolve(alert_id: int) -> AlertOut:
    """Resolve an alert by hand (a rule's alert may fire again after its cooldown)."""
    return AlertOut.model_validate(await lifecycle.resolve(alert_id, current_identity().username))


@alerts_bp.get("/rules")
@requires("viewer")
@tag(["alerts"])
@validate_querystring(PageQuery)
@validate_response(RulePage)
async def list_rules(query_args: PageQuery) -> RulePage:
    """Alert rules, oldest first."""
    qs = AlertRule.all().order_by("id")
    return await paginate(qs, query_args, RuleOut.model_validate)


@alerts_bp.post("/rules")
@requires("admin")
@tag(["alerts"])
@validate_request(RuleIn)
@validate_response(RuleOut, 201)
@validate_response(ValidationErrorBody, 422)
async def create_rule(data: RuleIn) -> tuple[RuleOut, int]:
    """Create a rule on a declared metric (422 for an unknown metric or label)."""
    rule = await service.create_rule(data, current_identity().username)
    return RuleOut.model_validate(rule), 201


@alerts_bp.put("/rules/<int:rule_id>")
@requires("admin")
@tag(["alerts"])
@validate_request(RuleIn)
@validate_response(RuleOut)
async def replace_rule(rule_id: int, data: RuleIn) -> RuleOut:
    """Replace a rule; its series start afresh."""
    return RuleOut.model_validate(await service.replace_rule(rule_id, data))


@alerts_bp.delete("/rules/<int:rule_id>")
@requires("admin")
@tag(["alerts"])
@no_content
async def delete_rule(rule_id: int) -> tuple[str, int]:
    """Delete a rule (its alerts stay)."""
    await service.delete_rule(rule_id)
    return "", 204


@alerts_bp.get("/notifiers")
@requires("admin")
@tag(["alerts"])
@validate_response(NotifierList)
async def list_notifiers() -> NotifierList:
    """The notifiers that targets may use (``register_notifiers``)."""
    items = [
        {"name": n.name, "description": n.description} for n in notifiers.registered().values()
    ]
    return NotifierList.model_validate({"items": items})


@alerts_bp.get("/targets")
@requires("admin")
@tag(["alerts"])
@validate_querystring(PageQuery)
@validate_response(TargetPage)
async def list_targets(query_args: PageQuery) -> TargetPage:
    """Notifier targets, secrets masked."""
    qs = NotifierTarget.all().order_by("id")
    return await paginate(qs, query_args, service.target_out)


@alerts_bp.post("/targets")
@requires("admin")
@tag(["alerts"])
@validate_request(TargetIn)
@validate_response(TargetOut, 201)
@validate_response(ValidationErrorBody, 422)
async def create_target(data: TargetIn) -> tuple[TargetOut, int]:
    """A notifier target; a webhook URL must pass the address guard (422 with the reason)."""
    target = await service.create_target(data, current_identity().username)
    return TargetOut.model_validate(service.target_out(target, reveal=True)), 201


@alerts_bp.delete("/targets/<int:target_id>")
@requires("admin")
@tag(["alerts"])
@no_content
async def delete_target(target_id: int) -> tuple[str, int]:
    """Delete a notifier target (its pending deliveries are dropped)."""
    await service.delete_target(target_id)
    return "", 204
