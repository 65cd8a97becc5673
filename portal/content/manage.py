"""Editing and review screens (dashboard, add, edit, workflow, attachments, revisions)."""
