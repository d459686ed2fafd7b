"""Orders API: products, customers and orders that take stock."""
