ALTER TABLE invoice_lines ADD CONSTRAINT fk_invoice_lines_tax_rate_id FOREIGN KEY (tax_rate_id) REFERENCES tax_rates (id);
