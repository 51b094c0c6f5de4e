-- Tables a fresh clone has no rows in (a reset asks them only whether they still have none),
-- one with history.
CREATE TABLE drafts (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    body TEXT NULL
) ENGINE = InnoDB;
CREATE TABLE drafts_hist (
    id INT NOT NULL PRIMARY KEY
) ENGINE = InnoDB WITH SYSTEM VERSIONING;
-- Two parents alike, and a child with a key to each: swapping their names changes only what
-- the child's keys show.
CREATE TABLE p_left (id INT NOT NULL PRIMARY KEY) ENGINE = InnoDB;
CREATE TABLE p_right (id INT NOT NULL PRIMARY KEY) ENGINE = InnoDB;
CREATE TABLE p_child (
    l INT NULL,
    r INT NULL,
    CONSTRAINT fk_left FOREIGN KEY (l) REFERENCES p_left (id),
    CONSTRAINT fk_right FOREIGN KEY (r) REFERENCES p_right (id)
) ENGINE = InnoDB;
