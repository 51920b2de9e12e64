"""Handling of uploaded files: safe extraction of image archives."""
