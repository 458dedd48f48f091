"""The running service: supervision of sources, the pipeline, the HTTP API and the dashboard."""
