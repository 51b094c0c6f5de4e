INSERT INTO notes (body) VALUES ('from data/two_notes.sql 1'), ('from data/two_notes.sql 2');
