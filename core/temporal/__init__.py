"""Sub-agents on Temporal (`--runner temporal`): workflows, activities, workers, the event hub.

Only imported when the Temporal runner is used: the rest of `core` works without the
`temporalio` package (the `temporal` extra).
"""
