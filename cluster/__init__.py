"""Kubernetes model, filters and API runtime."""
