CREATE TABLE stock_movements (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    book_id BIGINT UNSIGNED NOT NULL,
    delta INT NOT NULL,
    reason VARCHAR(20) NOT NULL,
    at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT stock_movements_book FOREIGN KEY (book_id) REFERENCES books (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Selling a book takes it out of stock and records the movement.
CREATE TRIGGER order_items_take_stock AFTER INSERT ON order_items
FOR EACH ROW
BEGIN
    UPDATE books SET stock = stock - NEW.quantity WHERE id = NEW.book_id;
    INSERT INTO stock_movements (book_id, delta, reason) VALUES (NEW.book_id, -NEW.quantity, 'sale');
END;
