CREATE TRIGGER journal_lines_posted AFTER INSERT ON journal_lines FOR EACH ROW
UPDATE journal_entries SET memo = COALESCE(memo, 'posted') WHERE id = NEW.journal_entry_id;
