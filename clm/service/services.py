"""Tickets and survey responses."""
