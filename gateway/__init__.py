"""The identity gateway application package."""
