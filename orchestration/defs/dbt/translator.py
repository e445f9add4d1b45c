"""How dbt nodes become Dagster assets and checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from loyalty.outcome import FINDING_TAG


class LoyaltyTranslator(DagsterDbtTranslator):
    """Groups follow the project's layers (staging, audit, intermediate, marts)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "program"
        return fqn[1] if len(fqn) > 2 else "default"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """Reconciliation findings (tag ``finding``) never block: the marts they test are what
        people use to investigate them. Every other error-severity test blocks (integrity)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id, {})
        if spec is not None and FINDING_TAG in node.get("tags", []):
            return spec._replace(blocking=False)
        return spec


translator = LoyaltyTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))
