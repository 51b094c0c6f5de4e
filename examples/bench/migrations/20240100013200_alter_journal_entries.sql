ALTER TABLE journal_entries ADD COLUMN reference VARCHAR(40) NULL;
