"""Shipped playbook templates, one JSON document each."""
