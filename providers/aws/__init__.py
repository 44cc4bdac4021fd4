"""The AWS adapter: costs (Cost Explorer or Athena over CUR 2.0 / FOCUS exports), inventory,
utilization, commitments, SageMaker runs and prices. See providers/base.py for the contract."""
