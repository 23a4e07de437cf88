"""Orders, cart and checkout, payments and after-sales."""
