-- Seed rows. Row 2 points at row 3, so copying in key order needs foreign key checks off.
INSERT INTO parent (id, code, label, parent_id) VALUES (1, 'root', 'Root', NULL);
INSERT INTO parent (id, code, label, parent_id) VALUES (3, 'mid', 'Middle', 1);
INSERT INTO parent (id, code, label, parent_id, secret) VALUES (2, 'leaf', 'Leaf', 3, 42);
-- Leave the counter above the highest id: a clone must keep it there.
INSERT INTO parent (id, code, label) VALUES (9, 'tmp', 'Temporary');
DELETE FROM parent WHERE id = 9;

INSERT INTO child (parent_id, qty, price, note) VALUES (1, 2, 3.50, 'first'), (2, 1, 10.00, NULL);
INSERT INTO measurements (id, taken, reading) VALUES (1, '2023-05-01', 1.5), (1, '2024-05-01', 2.5), (2, '2030-01-01', 3.5);
INSERT INTO lookup_myisam (id, name) VALUES (1, 'one'), (2, 'two');
