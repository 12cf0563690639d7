"""Business logic: one module per noun. Services own their transaction and raise DomainError."""
