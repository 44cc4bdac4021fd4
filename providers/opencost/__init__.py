"""Kubernetes through OpenCost: per-cluster cost allocation (a lens on the cloud bill) and assets.

adapter.py is light (the config validation imports it); allocation.py and assets.py are the sync
steps, script.py the kubectl script exporter of cleanup plans.
"""
