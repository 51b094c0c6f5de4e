ALTER TABLE bank_transactions ADD COLUMN description VARCHAR(300) NULL;
