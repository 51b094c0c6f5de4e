CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL);
INSERT INTO notes (body) VALUES ('from the migration');
