CREATE TABLE books (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    author_id BIGINT UNSIGNED NOT NULL,
    title VARCHAR(300) NOT NULL,
    isbn CHAR(13) NOT NULL,
    price_cents INT NOT NULL,
    stock INT NOT NULL DEFAULT 0,
    UNIQUE KEY books_isbn (isbn),
    CONSTRAINT books_author FOREIGN KEY (author_id) REFERENCES authors (id),
    CONSTRAINT books_price_nonnegative CHECK (price_cents >= 0),
    CONSTRAINT books_stock_nonnegative CHECK (stock >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
