-- Every kind of table feature a clone must carry over.
CREATE TABLE parent (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    label VARCHAR(100) NOT NULL COMMENT 'shown to users',
    parent_id INT NULL,
    secret INT DEFAULT 7 INVISIBLE,
    UNIQUE KEY parent_code (code),
    KEY parent_label_prefix (label(10)),
    FULLTEXT KEY parent_label_ft (label),
    CONSTRAINT parent_self FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL
) ENGINE = InnoDB ROW_FORMAT = DYNAMIC COMMENT = 'a tree' DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

CREATE TABLE child (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parent_id INT NOT NULL,
    qty INT NOT NULL,
    price DECIMAL(10, 2) NOT NULL,
    note VARCHAR(100) NULL,
    total DECIMAL(12, 2) AS (qty * price) STORED,
    note_upper VARCHAR(100) AS (UPPER(note)) VIRTUAL,
    KEY child_total (total),
    CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT child_qty CHECK (qty > 0)
) ENGINE = InnoDB AUTO_INCREMENT = 1000;

CREATE TABLE measurements (
    id INT NOT NULL,
    taken DATE NOT NULL,
    reading DOUBLE NOT NULL,
    PRIMARY KEY (id, taken)
) ENGINE = InnoDB
PARTITION BY RANGE (YEAR(taken)) (
    PARTITION p2023 VALUES LESS THAN (2024),
    PARTITION p2024 VALUES LESS THAN (2025),
    PARTITION pmax VALUES LESS THAN MAXVALUE
);

CREATE TABLE audit_log (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    what VARCHAR(200) NOT NULL
) ENGINE = InnoDB;

CREATE TABLE lookup_myisam (
    id INT NOT NULL PRIMARY KEY,
    name VARCHAR(20) NOT NULL
) ENGINE = MyISAM;

CREATE TABLE empty_table (id INT NOT NULL PRIMARY KEY) ENGINE = InnoDB;
