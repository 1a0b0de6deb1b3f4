"""The local HTTP status endpoint of the service (`/health`, `/status`)."""
