ALTER TABLE bank_accounts ADD CONSTRAINT fk_bank_accounts_account_id FOREIGN KEY (account_id) REFERENCES accounts (id);
