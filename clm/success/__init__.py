"""Programmes across the customer's life: onboarding checklists and activation, success plans and
QBRs, the customer-facing value board. Built on the tasks and cases of `clm.automation`."""
