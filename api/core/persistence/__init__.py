"""SQLAlchemy models and the plain functions that read and write them."""
