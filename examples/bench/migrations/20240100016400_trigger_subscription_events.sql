CREATE TRIGGER subscriptions_status AFTER UPDATE ON subscriptions FOR EACH ROW
INSERT INTO subscription_events (subscription_id, kind) VALUES (NEW.id, CONCAT('status:', NEW.status));
