ALTER TABLE reconciliations ADD CONSTRAINT fk_reconciliations_journal_line_id FOREIGN KEY (journal_line_id) REFERENCES journal_lines (id);
