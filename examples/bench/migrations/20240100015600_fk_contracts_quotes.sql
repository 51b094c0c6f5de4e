ALTER TABLE contracts ADD CONSTRAINT fk_contracts_quote_id FOREIGN KEY (quote_id) REFERENCES quotes (id);
