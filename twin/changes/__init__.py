"""Change open to the public: change events derived from the history, their feeds, the monthly
summary, KPI trends and the demo's year of changes (docs/changes.md)."""
