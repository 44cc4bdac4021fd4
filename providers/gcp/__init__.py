"""Google Cloud: the BigQuery billing export, Compute Engine, Cloud Monitoring, Recommender, CUDs, Vertex AI."""
