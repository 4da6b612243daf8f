"""Plain web endpoints shared by every deployment: health and readiness."""
