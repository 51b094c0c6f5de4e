-- The starting catalogue.
INSERT INTO authors (id, name, country) VALUES
    (1, 'Ursula K. Le Guin', 'US'),
    (2, 'Carl Sagan', 'US'),
    (3, 'Mary Beard', 'GB');

INSERT INTO books (id, author_id, title, isbn, price_cents, stock) VALUES
    (1, 1, 'A Wizard of Earthsea', '9780547773742', 1099, 12),
    (2, 1, 'The Dispossessed', '9780061054884', 1599, 4),
    (3, 2, 'Cosmos', '9780345539434', 1899, 7),
    (4, 3, 'SPQR', '9781631492228', 2199, 3);

INSERT INTO book_categories (book_id, category_id)
SELECT 1, id FROM categories WHERE slug IN ('fiction', 'children')
UNION ALL SELECT 2, id FROM categories WHERE slug = 'fiction'
UNION ALL SELECT 3, id FROM categories WHERE slug = 'science'
UNION ALL SELECT 4, id FROM categories WHERE slug = 'history';
