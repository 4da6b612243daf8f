"""Storage: SQLAlchemy tables mapped onto the domain entities, transactions, and the ``Store`` contract."""
