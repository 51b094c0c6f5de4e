INSERT INTO items (id, sku, name, price, qty, note) VALUES
    (1, 'a-1', 'Anvil', 5.00, 2, 'heavy'),
    (2, 'b-2', 'Bellows', 12.50, 1, NULL),
    (3, 'c-3', 'Chisel', 3.20, 7, 'sharp edge'),
    (4, 'd-4', 'Drill', 40.00, 1, 'sharp heavy drill');
INSERT INTO measures VALUES (1, 123456.7, 'a'), (2, 0.1, ''), (3, 1.0000001, 'b');
-- The counter above the highest id: a reset must keep it there.
INSERT INTO items (id, sku, name) VALUES (40, 'tmp', 'Temporary');
DELETE FROM items WHERE id = 40;
-- Through the triggers: stamped times and audit rows a reset must keep, not make anew.
INSERT INTO orders (item_id, amount) VALUES (1, 10.00), (2, 25.00);
UPDATE orders SET amount = 11.00 WHERE id = 1;
INSERT INTO tags VALUES (1, 'metal'), (3, 'tool');
INSERT INTO m_lookup VALUES (1, 'one', 'x'), (2, 'two', 'y');
INSERT INTO a_notes (body) VALUES ('first'), ('second');
INSERT INTO mem_cache VALUES ('x', 1), ('y', 2);
INSERT INTO hist VALUES (1, 10), (2, 20);
UPDATE hist SET val = 11 WHERE id = 1;
INSERT INTO parts VALUES (1, 2023), (2, 2024);
INSERT INTO m_part1 VALUES (1);
INSERT INTO m_part2 VALUES (2);
INSERT INTO hist_parts VALUES (1, 1);
UPDATE hist_parts SET val = 2;
UPDATE hist_parts SET val = 3;
UPDATE hist_parts SET val = 4;
DO NEXTVAL(seq_ids);
