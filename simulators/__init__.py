"""Simulators that speak the same wire formats as the real readers and cameras."""
