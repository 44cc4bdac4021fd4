"""Provider adapters (FOCUS files, demo, clouds), config and sync. Imports cache only."""
