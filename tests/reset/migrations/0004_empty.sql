-- Tables a fresh clone has no rows in (a reset asks them only whether they still have none),
-- one with history.
CREATE TABLE drafts (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    body TEXT NULL
) ENGINE = InnoDB;
CREATE TABLE drafts_hist (
    id INT NOT NULL PRIMARY KEY
) ENGINE = InnoDB WITH SYSTEM VERSIONING;
