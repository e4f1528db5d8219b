"""The Rails Integrations API (2026-01) as code: models, errors and the method table."""
