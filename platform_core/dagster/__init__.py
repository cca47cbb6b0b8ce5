"""Dagster adapters: asset factories, freshness policies, resources, instance storage, the platform's location."""
