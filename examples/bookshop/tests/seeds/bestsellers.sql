-- A reader who bought a lot: two paid orders (the trigger takes the copies out of stock).
INSERT INTO customers (id, email, name) VALUES (200, 'reader@example.org', 'Reader');
INSERT INTO orders (id, customer_id, status) VALUES (600, 200, 'paid'), (601, 200, 'paid');
INSERT INTO order_items (order_id, book_id, quantity, unit_price_cents) VALUES
    (600, 1, 5, 1099),
    (600, 3, 2, 1899),
    (601, 1, 3, 1099);
