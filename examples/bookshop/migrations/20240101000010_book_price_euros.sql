-- A generated column for display, and an index for the catalogue's "cheapest first" page.
ALTER TABLE books
    ADD COLUMN price_eur DECIMAL(10, 2) AS (price_cents / 100) VIRTUAL,
    ADD KEY books_price (price_cents);
