ALTER TABLE journal_lines ADD CONSTRAINT journal_lines_one_side CHECK (debit_cents = 0 OR credit_cents = 0);
