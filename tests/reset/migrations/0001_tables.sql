-- Every engine the server has, every kind of column, index, constraint and partitioning a reset
-- must see changes to (MariaDB: sequences, system versioning, Aria, ignored indexes).
CREATE TABLE items (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku VARCHAR(20) NOT NULL,
    name VARCHAR(100) NOT NULL COMMENT 'shown to users',
    price DECIMAL(10, 2) NOT NULL DEFAULT 0,
    qty INT NOT NULL DEFAULT 1,
    total DECIMAL(12, 2) AS (price * qty) STORED,
    note TEXT NULL,
    UNIQUE KEY u_sku (sku),
    KEY k_price (price),
    KEY k_name_prefix (name(10)),
    KEY k_qty_desc (qty DESC),
    FULLTEXT KEY ft_note (note),
    CONSTRAINT c_qty CHECK (qty >= 0)
) ENGINE = InnoDB COMMENT = 'the catalogue' DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

CREATE TABLE orders (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    item_id INT NOT NULL,
    amount DECIMAL(10, 2) NOT NULL,
    stamped DATETIME(6) NULL,
    CONSTRAINT fk_orders_item FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE
) ENGINE = InnoDB;

CREATE TABLE audit (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    what VARCHAR(200) NOT NULL,
    at DATETIME(6) NOT NULL DEFAULT NOW(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE tags (
    item_id INT NOT NULL,
    tag VARCHAR(20) NOT NULL
) ENGINE = InnoDB;

-- MyISAM with a live checksum (what CHECKSUM TABLE returns without reading the rows).
CREATE TABLE m_lookup (
    id INT NOT NULL PRIMARY KEY,
    name VARCHAR(20) NOT NULL,
    label VARCHAR(20) NOT NULL DEFAULT '',
    KEY k_name (name)
) ENGINE = MyISAM CHECKSUM = 1;

CREATE TABLE a_notes (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    body VARCHAR(200) NOT NULL
) ENGINE = Aria;

CREATE TABLE mem_cache (
    k VARCHAR(20) NOT NULL PRIMARY KEY,
    v INT NOT NULL,
    KEY k_v (v) USING BTREE
) ENGINE = MEMORY;

CREATE TABLE hist (
    id INT NOT NULL PRIMARY KEY,
    val INT NOT NULL
) ENGINE = InnoDB WITH SYSTEM VERSIONING;

CREATE TABLE parts (
    id INT NOT NULL,
    y INT NOT NULL,
    PRIMARY KEY (id, y)
) ENGINE = InnoDB
PARTITION BY RANGE (y) (
    PARTITION p2023 VALUES LESS THAN (2024),
    PARTITION p2024 VALUES LESS THAN (2025)
);

-- Values that print alike: FLOAT as text keeps 6 digits; an ENUM's error value prints as ''.
CREATE TABLE measures (
    id INT NOT NULL PRIMARY KEY,
    weight FLOAT NOT NULL,
    kind ENUM('', 'a', 'b') NOT NULL DEFAULT ''
) ENGINE = InnoDB;

-- A MERGE table: its rows are the rows of the tables it unites.
CREATE TABLE m_part1 (id INT NOT NULL, KEY (id)) ENGINE = MyISAM;
CREATE TABLE m_part2 (id INT NOT NULL, KEY (id)) ENGINE = MyISAM;
CREATE TABLE m_all (id INT NOT NULL, KEY (id)) ENGINE = MRG_MyISAM UNION = (m_part1, m_part2) INSERT_METHOD = LAST;

-- History kept in partitions: which one a row lands in depends on what the table held before.
CREATE TABLE hist_parts (
    id INT NOT NULL PRIMARY KEY,
    val INT NOT NULL
) ENGINE = InnoDB WITH SYSTEM VERSIONING
PARTITION BY SYSTEM_TIME LIMIT 1 (PARTITION p0 HISTORY, PARTITION p1 HISTORY, PARTITION pcur CURRENT);

CREATE SEQUENCE seq_ids START WITH 100 INCREMENT BY 1 CACHE 10;
