"""Alerts as a Dagster OSS sensor of the platform's location: `platform__alerts`.

Every 30 seconds it looks at the mesh as the instance knows it (platform_core.alerts.conditions):
products not published, warning checks failing, freshness, failed or dead runs, domains that do
not load, expectations broken, sunsets coming. It sends what changed since its last look
(platform_core.alerts.engine). Its cursor is the state of that last look, which Dagster keeps
across restarts of the daemon, so nothing is sent twice. This needs no run-failure sensor, which a
failed check in a successful run would not wake (dagster #29896), and no Dagster+ freshness alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from platform_core.alerts.conditions import Condition, conditions
from platform_core.alerts.engine import Sent, look, sent_log
from platform_core.catalog.mesh import LoadedMesh, Mesh
from platform_core.dagster.refusals import refusals
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.settings import Settings

SENSOR_NAME = "platform__alerts"


@dataclass
class _Mesh:
    """The mesh, and why its domains do not load, worked out again only when its files change (the
    refusals build every domain's definitions: seconds, not for every look)."""

    loaded: LoadedMesh
    fingerprint: str = ""
    refusals: dict[str, str] | None = None

    def current(self, settings: Settings) -> tuple[Mesh, dict[str, str]]:
        fingerprint, mesh = self.loaded.current()
        if self.refusals is None or fingerprint != self.fingerprint:
            self.refusals, self.fingerprint = refusals(mesh.domains, settings), fingerprint
        return mesh, self.refusals


def look_now(
    settings: Settings, instance: dg.DagsterInstance, state: dict[str, Any], known: _Mesh | None = None
) -> tuple[dict[str, Any], list[Sent], list[Condition]]:
    """One look at the mesh: the state to keep, what was sent (or failed), and what is wrong now."""
    known = known or _Mesh(LoadedMesh(MeshIndex.of_workspace(settings.workspace)))
    mesh, refused = known.current(settings)
    now = datetime.now(UTC)
    found = conditions(mesh, instance, refused, now, settings.alerts.ui_url, settings.alerts.sunset_notice)
    kept, sent = look(state, found, mesh, known.loaded.index, settings.alerts, sent_log(settings.warehouse_root), now)
    return kept, sent, found


def build_alerts_sensor(settings: Settings) -> dg.SensorDefinition:
    known = _Mesh(LoadedMesh(MeshIndex.of_workspace(settings.workspace)))

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tells owners, and the consumers of what they publish, when a product's promise breaks and "
        "when it recovers: by e-mail and the domains' chat webhooks, on changes only (docs/alerts.md).",
    )
    def alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        state = json.loads(context.cursor) if context.cursor else {}
        kept, sent, found = look_now(settings, context.instance, state, known)
        context.update_cursor(json.dumps(kept, sort_keys=True))
        failed = [s for s in sent if s.status != "sent"]
        for message in failed:
            context.log.warning(f"alert to {message.recipient} not sent ({message.status}): {message.error}")
        said = f"{len(found)} condition(s) now; {len(sent) - len(failed)} message(s) sent"
        return dg.SkipReason(said + (f", {len(failed)} not sent: {failed[0].error}" if failed else ""))

    return alerts
