CREATE FUNCTION f_tax(p DECIMAL(12, 2)) RETURNS DECIMAL(12, 2) DETERMINISTIC
    RETURN ROUND(p * 1.2, 2);

CREATE PROCEDURE p_add_order(IN item INT, IN amt DECIMAL(10, 2)) COMMENT 'adds an order'
BEGIN
    INSERT INTO orders (item_id, amount) VALUES (item, amt);
END;

CREATE ALGORITHM = MERGE SQL SECURITY DEFINER VIEW v_items AS
    SELECT id, sku, price, f_tax(price) AS with_tax FROM items;

CREATE VIEW v_cheap AS SELECT id, price FROM items WHERE price < 10 WITH CASCADED CHECK OPTION;

-- Triggers of every timing; one stamps the time, as sample schemas' `create_date` triggers do.
CREATE TRIGGER orders_bi BEFORE INSERT ON orders FOR EACH ROW SET NEW.stamped = NOW(6);
CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW
    INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id));
CREATE TRIGGER orders_ai2 AFTER INSERT ON orders FOR EACH ROW FOLLOWS orders_ai
    INSERT INTO audit (what) VALUES (CONCAT('order again ', NEW.id));
CREATE TRIGGER orders_bu BEFORE UPDATE ON orders FOR EACH ROW SET NEW.stamped = NOW(6);
CREATE TRIGGER orders_au AFTER UPDATE ON orders FOR EACH ROW
    INSERT INTO audit (what) VALUES (CONCAT('update ', NEW.id));
CREATE TRIGGER orders_bd BEFORE DELETE ON orders FOR EACH ROW
    INSERT INTO audit (what) VALUES (CONCAT('deleting ', OLD.id));
CREATE TRIGGER orders_ad AFTER DELETE ON orders FOR EACH ROW
    INSERT INTO audit (what) VALUES (CONCAT('deleted ', OLD.id));
CREATE TRIGGER m_lookup_bi BEFORE INSERT ON m_lookup FOR EACH ROW SET NEW.name = UPPER(NEW.name);

CREATE EVENT e_purge ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00'
    ON COMPLETION PRESERVE DISABLE COMMENT 'purge old audit rows'
    DO DELETE FROM audit WHERE id < 0;
