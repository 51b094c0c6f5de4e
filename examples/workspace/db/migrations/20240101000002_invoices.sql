CREATE TABLE invoices (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    account_id BIGINT UNSIGNED NOT NULL,
    amount_cents BIGINT NOT NULL,
    paid TINYINT(1) NOT NULL DEFAULT 0,
    CONSTRAINT invoices_account FOREIGN KEY (account_id) REFERENCES accounts (id)
);
CREATE VIEW unpaid_totals AS
    SELECT account_id, SUM(amount_cents) AS unpaid_cents FROM invoices WHERE paid = 0 GROUP BY account_id;
