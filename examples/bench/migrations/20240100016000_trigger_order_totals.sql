CREATE TRIGGER order_lines_total AFTER INSERT ON order_lines FOR EACH ROW
UPDATE orders SET total_cents = total_cents + NEW.quantity * NEW.unit_cents WHERE id = NEW.order_id;
