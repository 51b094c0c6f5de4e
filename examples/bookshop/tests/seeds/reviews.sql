-- The reader's reviews (needs bestsellers.sql first: customer 200).
INSERT INTO reviews (book_id, customer_id, rating, body) VALUES
    (1, 200, 5, 'Read it twice.'),
    (3, 200, 4, NULL);
