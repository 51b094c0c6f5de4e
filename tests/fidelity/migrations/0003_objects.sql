CREATE FUNCTION price_with_tax(p DECIMAL(12, 2)) RETURNS DECIMAL(12, 2) DETERMINISTIC
    RETURN ROUND(p * 1.2, 2);

CREATE PROCEDURE add_child(IN pid INT, IN q INT)
BEGIN
    INSERT INTO child (parent_id, qty, price) VALUES (pid, q, 1.00);
    INSERT INTO audit_log (what) VALUES (CONCAT('child for ', pid));
END;

CREATE VIEW child_totals AS
    SELECT parent_id, SUM(total) AS total, COUNT(*) AS n FROM child GROUP BY parent_id;

-- A view on a view, calling a function.
CREATE VIEW parent_summary AS
    SELECT p.code, t.total, price_with_tax(t.total) AS with_tax
    FROM parent p JOIN child_totals t ON t.parent_id = p.id;

-- Sorts before the view it reads.
CREATE VIEW a_codes AS SELECT code FROM parent_summary;

CREATE TRIGGER child_ai AFTER INSERT ON child FOR EACH ROW
    INSERT INTO audit_log (what) VALUES (CONCAT('insert ', NEW.id));

CREATE TRIGGER child_ai_second AFTER INSERT ON child FOR EACH ROW FOLLOWS child_ai
    INSERT INTO audit_log (what) VALUES (CONCAT('second ', NEW.id));

CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00'
    ON COMPLETION PRESERVE DISABLE COMMENT 'purge old audit rows'
    DO DELETE FROM audit_log WHERE id < 0;
