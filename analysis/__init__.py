"""Pure domain logic over the cache (forecast, recommendations, commitments, ML run cost)."""
