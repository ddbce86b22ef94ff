"""The public status page: no login. Current incidents and their updates, components, history;
as HTML, as JSON (shaped like Statuspage's summary document, so existing tools can read it), and
as an Atom feed of updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from townsquare.api.deps import get_runtime
from townsquare.clock import as_utc, utcnow
from townsquare.store import incidents as incident_store
from townsquare.store import status as status_store
from townsquare.web.routes import templates

router = APIRouter(include_in_schema=True, tags=["status page"])

IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
COMPONENT_IMPACT = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
DESCRIPTIONS = {
    "none": "All systems operational",
    "minor": "Minor service disruption",
    "major": "Partial service outage",
    "critical": "Major service outage",
}


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def _indicator(current: list[dict[str, Any]], components: list[dict[str, Any]]) -> str:
    impacts = [incident["impact"] for incident in current] + [COMPONENT_IMPACT[c["status"]] for c in components]
    return max(impacts, key=lambda impact: IMPACT_RANK.get(impact, 0), default="none")


def _page(request: Request) -> dict[str, Any]:
    runtime = get_runtime(request)
    with runtime.db.read() as conn:
        current = status_store.public_incidents(conn, resolved=False)
        past = status_store.public_incidents(conn, resolved=True, limit=20)
        components = incident_store.list_components(conn)
    indicator = _indicator(current, components)
    return {
        "title": runtime.settings.status_page_title,
        "url": runtime.settings.public_url.rstrip("/") + "/status",
        "current": current,
        "past": past,
        "components": components,
        "indicator": indicator,
        "description": DESCRIPTIONS[indicator],
    }


@router.get("/status/history", response_class=HTMLResponse)
def status_history(request: Request) -> HTMLResponse:
    page = _page(request)
    page["current"] = []
    return HTMLResponse(templates.get_template("status.html").render(**page))


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    return HTMLResponse(templates.get_template("status.html").render(**_page(request)))


@router.get("/status/incidents/{incident_id}", response_class=HTMLResponse)
def status_incident(request: Request, incident_id: str) -> HTMLResponse:
    runtime = get_runtime(request)
    with runtime.db.read() as conn:
        incident = status_store.public_incident(conn, incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such published incident")
    page = _page(request)
    return HTMLResponse(templates.get_template("status_incident.html").render(incident=incident, **page))


def _incident_json(incident: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "id": incident["id"],
        "name": incident["title"],
        "status": _public_status(incident),
        "impact": incident["impact"],
        "created_at": _iso(incident["detected_at"]),
        "updated_at": _iso(incident["updated_at"]),
        "resolved_at": _iso(incident["resolved_at"]),
        "shortlink": f"{base}/incidents/{incident['id']}",
        "incident_updates": [
            {
                "id": u["id"],
                "status": u["status"],
                "body": u["body"],
                "created_at": _iso(u["created_at"]),
                "updated_at": _iso(u["created_at"]),
                "display_at": _iso(u["created_at"]),
            }
            for u in incident["updates"]
        ],
    }


def _public_status(incident: dict[str, Any]) -> str:
    if incident["updates"]:
        return str(incident["updates"][0]["status"])
    return "resolved" if incident["status"] == "resolved" else "investigating"


@router.get("/status.json")
def status_json(request: Request) -> dict[str, Any]:
    """Shaped like Statuspage's `/api/v2/summary.json`."""
    page = _page(request)
    return {
        "page": {"name": page["title"], "url": page["url"], "updated_at": utcnow().isoformat()},
        "status": {"indicator": page["indicator"], "description": page["description"]},
        "components": [
            {
                "id": c["id"],
                "name": c["name"],
                "description": c["description"],
                "status": c["status"],
                "position": c["position"],
                "updated_at": _iso(c["updated_at"]),
            }
            for c in page["components"]
        ],
        "incidents": [_incident_json(incident, page["url"]) for incident in page["current"]],
        "scheduled_maintenances": [],
    }


@router.get("/status.atom")
def status_atom(request: Request) -> Response:
    page = _page(request)
    atom = "http://www.w3.org/2005/Atom"
    ElementTree.register_namespace("", atom)
    feed = ElementTree.Element(f"{{{atom}}}feed")

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> None:
        element = ElementTree.SubElement(parent, f"{{{atom}}}{tag}", attributes)
        element.text = text

    add(feed, "title", page["title"])
    add(feed, "id", page["url"])
    add(feed, "link", href=page["url"], rel="alternate")
    add(feed, "updated", utcnow().isoformat())
    updates = [(incident, u) for incident in page["current"] + page["past"] for u in incident["updates"]]
    for incident, update in sorted(updates, key=lambda pair: as_utc(pair[1]["created_at"]), reverse=True)[:100]:
        entry = ElementTree.SubElement(feed, f"{{{atom}}}entry")
        add(entry, "title", f"{incident['title']}: {update['status']}")
        add(entry, "id", f"{page['url']}/incidents/{incident['id']}#{update['id']}")
        add(entry, "link", href=f"{page['url']}/incidents/{incident['id']}", rel="alternate")
        add(entry, "updated", _iso(update["created_at"]))
        add(entry, "content", update["body"], type="text")
    body = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml")
