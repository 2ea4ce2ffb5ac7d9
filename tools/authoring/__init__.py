"""Makers of shipped files: UI workflows and thumbnails (`example_workflows/`), the shapes model (`models/`)."""
