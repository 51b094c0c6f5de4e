CREATE TRIGGER tickets_subject BEFORE UPDATE ON tickets FOR EACH ROW
SET NEW.subject = TRIM(NEW.subject);
