"""The Azure kind (Cost Management, Resource Manager, Monitor, Advisor, reservations, cleanup)."""
