"""The playbook engine: definitions, triggers, steps, dispatch and execution."""
